"""Fuzz parse + normalize + render with 100 000 mutated real-capture bodies (seeded, repeatable).

usage: python3 bench/reliability_fuzz.py [--count 100000] [--seed 1]
Counts inputs, how many the parser rejected, and unhandled exceptions (must be 0).
"""

from __future__ import annotations

import argparse
import random
import sys
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from exporter.engines import ENGINES  # noqa: E402
from exporter.exposition import render  # noqa: E402
from exporter.normalize import Normalizer, detect  # noqa: E402
from exporter.parse import ParseError, parse  # noqa: E402
from tests.support.fuzz_inputs import _SPECIAL, REAL_LINES  # noqa: E402


def mutate(rng: random.Random, line: str) -> str:
    """The same mutations as the hypothesis strategy, drawn from a seeded generator."""
    for _ in range(rng.randint(0, 3)):
        at = rng.randint(0, len(line))
        kind = rng.choice(("cut", "insert", "delete", "keep"))
        if kind == "cut":
            line = line[:at]
        elif kind == "insert":
            line = line[:at] + rng.choice(_SPECIAL) + line[at:]
        elif kind == "delete":
            line = line[:at] + line[at + 1 :]
    return line


def body(rng: random.Random) -> str:
    """One exposition body of real and mutated lines."""
    lines = [
        mutate(rng, rng.choice(REAL_LINES)) if rng.random() < 0.03 else rng.choice(REAL_LINES)
        for _ in range(rng.randint(1, 40))
    ]
    return "\n".join(lines) + ("\n" if rng.random() < 0.8 else "")


def main() -> int:
    """Run the fuzz loop and print its counts."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    normalizers = [
        Normalizer(engine, "fuzz", "", mode) for engine in ENGINES.values() for mode in ("canonical", "native")
    ]
    rejected = crashes = 0
    started = time.monotonic()
    for index in range(args.count):
        text = body(rng)
        try:
            try:
                families = parse(text)
            except ParseError:
                rejected += 1
                continue
            detect(families, ENGINES.values())
            for normalizer in normalizers:
                parse(render(normalizer.normalize(families).families))
        except Exception:  # noqa: BLE001 - counting every unhandled exception is the point
            crashes += 1
            if crashes <= 3:
                print(f"input {index} crashed:\n{text!r}\n{traceback.format_exc()}")
        if (index + 1) % 20_000 == 0:
            print(
                f"[fuzz +{time.monotonic() - started:.0f}s] {index + 1} inputs, {rejected} rejected, "
                f"{crashes} unhandled",
                flush=True,
            )
    print(
        f"fuzz: {args.count} inputs (seed {args.seed}), {rejected} rejected by the parser as invalid, "
        f"{args.count - rejected} normalized through {len(normalizers)} table/bucket modes, "
        f"{crashes} unhandled exceptions, {time.monotonic() - started:.0f}s"
    )
    return 0 if crashes == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
