"""RSS of the exporter with its GPU collector on, beside a llama-server serving on GPU 0 (run on a GPU machine).

Exporters poll the same engine at once: one in this interpreter's environment, the others with `python3 -S` and
--min-site (a pip --target site of the project's dependencies alone, as in the container image): GPU collector on,
on with MALLOC_ARENA_MAX=2, and off. Prints and writes VmRSS/VmHWM in MB (10**6 bytes) of each after 10, 20 and
30 s of polling under light traffic, and the largest mappings of each.
Usage: python3 scripts/gpu/exporter_rss.py --min-site DIR --out FILE.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.procfs import largest_mappings, memory_mb  # noqa: E402
from tests.support.llamacpp import GPU_SIZED, llamacpp_server  # noqa: E402
from tests.support.process import ManagedProcess  # noqa: E402
from tests.support.traffic import send_completions  # noqa: E402


def main() -> None:
    """Start the engine and both exporters, sample their RSS, write the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--min-site", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    logs = Path(tempfile.mkdtemp(prefix="exporter-rss-"))
    engine = llamacpp_server(logs, extra_args=["-ngl", "99"], shape=GPU_SIZED, env={"CUDA_VISIBLE_DEVICES": "0"})
    flags = ["--target", engine.base_url, "--scrape.interval", "5s"]
    deps_only = {"PYTHONPATH": f"{args.min_site}:{ROOT}"}
    # name -> (interpreter, environment, GPU flag): the GPU collector's share is the difference to --gpu false.
    environments = {
        "this_environment": ([sys.executable], {}, "true"),
        "project_deps_only": ([sys.executable, "-S"], deps_only, "true"),
        "project_deps_only_malloc_arena_max_2": ([sys.executable, "-S"], deps_only | {"MALLOC_ARENA_MAX": "2"}, "true"),
        "project_deps_only_gpu_false": ([sys.executable, "-S"], deps_only, "false"),
    }
    exporters = {
        name: ManagedProcess(
            f"exporter-{name}",
            [*python, "-m", "exporter", *flags, "--gpu", gpu, "--web.listen-address", f"127.0.0.1:{19100 + i}"],
            f"http://127.0.0.1:{19100 + i}/-/ready",
            logs / f"{name}.log",
            env=env,
        )
        for i, (name, (python, env, gpu)) in enumerate(environments.items())
    }
    figures: dict[str, object] = {"python": sys.version.split()[0], "cpu_count": os.cpu_count()}
    engine.start()
    try:
        for process in exporters.values():
            process.start()
        started = time.monotonic()
        for after in (10, 20, 30):
            send_completions(engine.base_url, engine.model, count=8, shared=2, concurrency=8, max_tokens=32)
            time.sleep(max(0.0, started + after - time.monotonic()))
            figures[f"after_{after}s"] = {name: memory_mb(process.pid or 0) for name, process in exporters.items()}
        figures["largest_mappings_mb"] = {
            name: largest_mappings(process.pid or 0) for name, process in exporters.items()
        }
        figures["engine_memory_series"] = {
            name: "llm_gpu_engine_memory_used_bytes{" in httpx.get(f"http://127.0.0.1:{19100 + i}/metrics").text
            for i, name in enumerate(exporters)
        }
    finally:
        for process in exporters.values():
            process.stop()
        engine.stop()
    args.out.write_text(json.dumps(figures, indent=1))
    print(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
