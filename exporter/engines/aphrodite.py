"""Aphrodite Engine (a vLLM V1 fork), `aphrodite:` prefix, read from `aphrodite/v1/metrics/loggers.py` and
`aphrodite/v1/spec_decode/metrics.py` of the aphrodite-engine 0.24.1 wheel: the same families, labels, units and
bucket bounds as vLLM V1, so its table is vLLM's without the rows for vLLM's older names.
"""

from dataclasses import replace

from exporter.engines.vllm import ENGINE as VLLM

# vLLM's fallback rows and rows waiting for a capture name families of vLLM versions Aphrodite never forked; vLLM
# added its admission limits after the fork.
_AFTER_THE_FORK = ("admission_rejections",)

ENGINE = replace(
    VLLM,
    engine_type="aphrodite",
    prefixes=("aphrodite:",),
    rows=tuple(
        row for row in VLLM.rows if not row.fallback and not row.uncaptured and row.source not in _AFTER_THE_FORK
    ),
    info=VLLM.info[:1],  # /v1/models; Aphrodite has no /version
    programs=("aphrodite",),
    priority=12,
)
