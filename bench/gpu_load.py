"""A short GPU load for live GPU tests and benchmarks: bf16 matmuls on every GPU, peer copies between two."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

# Runs in a child process so the parent stays free of CUDA (and its PID can play the engine's).
_LOAD = """
import sys, time, torch
seconds = float(sys.argv[1])
n = torch.cuda.device_count()
a = [torch.randn(8192, 8192, device=f"cuda:{i}", dtype=torch.bfloat16) for i in range(n)]
copy = [torch.empty(256 << 20, dtype=torch.uint8, device=f"cuda:{i}") for i in range(n)]
for i in range(n):  # the first product loads cuBLAS: done before "ready", so the load is at full power from then on
    a[i] @ a[i]
torch.cuda.synchronize()
print("ready", flush=True)
end = time.time() + seconds
while time.time() < end:
    for i in range(n):
        a[i] @ a[i]
    if n > 1:  # peer copies move bytes over NVLink where the GPUs have it
        copy[1].copy_(copy[0])
        copy[0].copy_(copy[1])
    for i in range(n):
        torch.cuda.synchronize(i)
print("done", flush=True)
"""


@contextmanager
def gpu_load(seconds: float) -> Iterator[subprocess.Popen[str]]:
    """Run the load on every visible GPU for `seconds`; entered once its buffers are on the GPUs, left when done."""
    process = subprocess.Popen([sys.executable, "-c", _LOAD, str(seconds)], stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    try:
        line = process.stdout.readline().strip()
        if line != "ready":
            raise RuntimeError(f"GPU load did not start (got {line!r})")
        yield process
    finally:
        try:
            process.communicate(timeout=seconds + 60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
