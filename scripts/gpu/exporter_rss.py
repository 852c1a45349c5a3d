"""RSS of the exporter with its GPU collector on, beside a llama-server serving on GPU 0 (run on a GPU machine).

Two exporters poll the same engine at once: one in this interpreter's environment, one with `python3 -S` and
--min-site (a pip --target site of the project's dependencies alone, as in the container image). Prints and
writes VmRSS/VmHWM in MB (10**6 bytes) of each after 10, 20 and 30 s of polling under light traffic.
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

from tests.support.llamacpp import GPU_SIZED, llamacpp_server  # noqa: E402
from tests.support.process import ManagedProcess  # noqa: E402
from tests.support.traffic import send_completions  # noqa: E402


def rss_mb(pid: int) -> dict[str, float]:
    """VmRSS and VmHWM of a process, in MB (10**6 bytes)."""
    status = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return {key: round(int(status[key].split()[0]) * 1024 / 1e6, 1) for key in ("VmRSS", "VmHWM")}


def main() -> None:
    """Start the engine and both exporters, sample their RSS, write the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--min-site", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    logs = Path(tempfile.mkdtemp(prefix="exporter-rss-"))
    engine = llamacpp_server(logs, extra_args=["-ngl", "99"], shape=GPU_SIZED, env={"CUDA_VISIBLE_DEVICES": "0"})
    flags = ["--target", engine.base_url, "--gpu", "true", "--scrape.interval", "5s"]
    environments = {
        "this_environment": ([sys.executable], {}),
        "project_deps_only": ([sys.executable, "-S"], {"PYTHONPATH": f"{args.min_site}:{ROOT}"}),
    }
    exporters = {
        name: ManagedProcess(
            f"exporter-{name}",
            [*python, "-m", "exporter", *flags, "--web.listen-address", f"127.0.0.1:{19100 + i}"],
            f"http://127.0.0.1:{19100 + i}/-/ready",
            logs / f"{name}.log",
            env=env,
        )
        for i, (name, (python, env)) in enumerate(environments.items())
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
            figures[f"after_{after}s"] = {name: rss_mb(process.pid or 0) for name, process in exporters.items()}
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
