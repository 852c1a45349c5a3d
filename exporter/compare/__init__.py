"""`llm-exporter compare`: two engines watched over one window and compared figure by figure.

sampling reads both engines together, window turns a side's first and last readings into exact deltas, quantile
is PromQL's histogram_quantile, figures holds the comparison, and terminal, jsonreport and html render it.
"""
