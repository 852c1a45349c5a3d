"""llm-exporter: one Prometheus schema for every LLM inference engine and its GPUs."""

__version__ = "0.1.0"
