"""The parser agreement fuzz of tests/engines/test_parse_fuzz.py, at scale: 100 000 inputs, every outcome counted.

Usage: python3 bench/fuzz_parse.py [--inputs N] [--seed S]
Each hypothesis-generated well-formed exposition is parsed as is, then mutated (as the test does) several times
with a seeded random.Random; every input goes through the same compare() as the test. Exits 1 on the first
disagreement, printing it.
"""

from __future__ import annotations

import argparse
import collections
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402

from tests.engines.test_parse_fuzz import DisagreementError, compare, documents, mutate  # noqa: E402

# Our ParseError messages, by the reason they start with.
REASONS = (
    "duplicate series",
    "not a sample line",
    "truncated body",
    "malformed labels",
    "unknown metric type",
    "invalid metric name",
    "value",
    "label",
)
MUTANTS_PER_DOCUMENT = 19  # with the document itself, 20 inputs per generated document


def main(argv: list[str] | None = None) -> int:
    """Run the fuzz and print the outcome counts."""
    parser = argparse.ArgumentParser(
        prog="bench/fuzz_parse.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--inputs", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=10)
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    counts: collections.Counter[str] = collections.Counter()
    stricter: collections.Counter[str] = collections.Counter()
    started = time.monotonic()

    @settings(
        max_examples=-(-args.inputs // (MUTANTS_PER_DOCUMENT + 1)),
        deadline=None,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(documents())
    def run(text: str) -> None:
        for candidate in [text] + [mutate(text, rng) for _ in range(MUTANTS_PER_DOCUMENT)]:
            outcome = compare(candidate)
            counts[outcome.kind] += 1
            if outcome.kind == "ours_stricter":
                stricter[next((r for r in REASONS if outcome.detail.startswith(r)), outcome.detail[:40])] += 1

    try:
        run()
    except DisagreementError as error:
        print(f"DISAGREEMENT after {sum(counts.values())} inputs: {error}")
        return 1
    total = sum(counts.values())
    print(f"{total} inputs in {time.monotonic() - started:.0f} s, 0 disagreements")
    for kind, count in counts.most_common():
        print(f"  {kind}: {count}")
    print("  where only we reject (deliberately stricter), by reason:")
    for reason, count in stricter.most_common():
        print(f"    {reason}: {count}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
