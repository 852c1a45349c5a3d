"""RSS a process gains holding one parsed scrape of the vLLM capture at a scale; run in a fresh process each time.

Usage: python3 bench/memory.py ours|stock COPIES  -> prints {"series": N, "rss_before": B, "rss_after": B} as JSON.
"ours" keeps what the daemon keeps per target (the last unified families, the rendered text, what the parser
and normalizer remember between polls) after two polls; "stock" keeps prometheus_client's parsed families.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from prometheus_client.parser import text_string_to_metric_families  # noqa: E402

from bench import procfs  # noqa: E402
from bench.pipeline import TGI, VLLM, Pipeline, capture, next_poll, relabelled  # noqa: E402
from exporter.parse import parse  # noqa: E402


def main(which: str, copies: int) -> dict[str, int]:
    """Measure one parser at one scale."""
    bodies = [next_poll(relabelled(capture(VLLM), copies), step) for step in range(2)]
    # First-use allocations of both sides happen before the "before" reading, on series the measurement never sees;
    # what they made stays referenced, so the measured side cannot look free by reusing memory the warm-up freed.
    warm = (list(text_string_to_metric_families(capture(TGI))), Pipeline())
    warm[1].run(capture(TGI))
    before = procfs.rss_bytes(os.getpid())
    if which == "ours":
        pipeline = Pipeline()
        kept: object = ([pipeline.run(body) for body in bodies][-1], pipeline)
    else:
        kept = list(text_string_to_metric_families(bodies[-1]))
    after = procfs.rss_bytes(os.getpid())
    del kept, warm
    series = sum(len(family.samples) for family in parse(bodies[0]))  # after: its memory must not be reused above
    return {"series": series, "rss_before": before, "rss_after": after}


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], int(sys.argv[2]))))
