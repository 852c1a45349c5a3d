"""Real vLLM and SGLang servers (CPU builds) serving the tiny model on 127.0.0.1, from the install script's venvs."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from tests.support.deps import cache_dir, cuda_stub_dir, venv_python
from tests.support.ports import Loopback, free_port
from tests.support.process import ManagedProcess, ProcessServer
from tests.support.tiny_model import ensure_tiny_model

SERVED_MODEL = "tiny"
MAX_MODEL_LEN = 1024
# Cold starts on a 2-core machine: vLLM about a minute, SGLang about 30 s; leave room for a loaded CI box.
STARTUP_TIMEOUT = 300.0


class EngineServer(ProcessServer, Loopback):
    """One engine server on a fixed port: start, stop and restart it; URLs for its API and /metrics."""

    def __init__(self, engine_type: str, port: int, process: ManagedProcess) -> None:
        self.engine_type = engine_type
        self.port = port
        self.process = process
        self.model = SERVED_MODEL

    @property
    def base_url(self) -> str:
        """Root URL of the server (its OpenAI-compatible API lives under it)."""
        return self.url

    @property
    def exported_labels(self) -> dict[str, str]:
        """The labels the exporter puts on this engine's series: engine type, served model and target."""
        return {"engine_type": self.engine_type, "model": self.model, "target": self.target}

    def ensure_running(self) -> None:
        """Start the server if it is not running (e.g. a test stopped it and failed before restarting it)."""
        if not self.process.running:
            self.process.start()


def vllm_server(log_dir: Path, port: int | None = None, extra_args: Sequence[str] = ()) -> EngineServer:
    """A vLLM OpenAI server (not yet started) for the tiny model, with prefix caching on."""
    python = venv_python("vllm")
    model_dir = ensure_tiny_model(python, cache_dir())
    port = port or free_port()
    argv = [
        str(python), "-m", "vllm.entrypoints.openai.api_server",
        "--model", str(model_dir), "--served-model-name", SERVED_MODEL,
        "--host", "127.0.0.1", "--port", str(port),
        "--max-model-len", str(MAX_MODEL_LEN), "--dtype", "bfloat16", "--enable-prefix-caching",
        "--enforce-eager",  # skips the torch.compile warm-up: 45 s of a cold start here, and metrics are the same
        *extra_args,
    ]  # fmt: skip
    # 1 GiB of KV cache: vLLM's CPU default takes a large share of RAM, which CI cannot spare.
    env = {"VLLM_CPU_KVCACHE_SPACE": "1", "HF_HUB_OFFLINE": "1"}
    process = ManagedProcess(
        "vllm", argv, f"http://127.0.0.1:{port}/health", log_dir / f"vllm-{port}.log", env, STARTUP_TIMEOUT
    )
    return EngineServer("vllm", port, process)


def sglang_server(log_dir: Path, port: int | None = None, extra_args: Sequence[str] = ()) -> EngineServer:
    """An SGLang server (not yet started) on its CPU engine for the tiny model, with metrics on."""
    python = venv_python("sglang")
    model_dir = ensure_tiny_model(python, cache_dir())
    port = port or free_port()
    argv = [
        str(python.parent / "sglang"), "serve",
        "--model-path", str(model_dir), "--served-model-name", SERVED_MODEL,
        "--host", "127.0.0.1", "--port", str(port),
        "--device", "cpu", "--attention-backend", "torch_native", "--enable-metrics",
        "--max-total-tokens", "16384",  # keeps the KV pool at a few MB instead of a share of all RAM
        "--sleep-on-idle",  # otherwise the idle scheduler spins a whole core, half of a 2-core CI machine
        *extra_args,
    ]  # fmt: skip
    library_path = os.pathsep.join(filter(None, [str(cuda_stub_dir()), os.environ.get("LD_LIBRARY_PATH")]))
    env = {
        "LD_LIBRARY_PATH": library_path,  # the stub libcuda.so.1 lets sgl_kernel's CUDA extension load
        "SGLANG_USE_CPU_ENGINE": "1",  # `--device cpu` alone does not select the CPU engine
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
    }
    process = ManagedProcess(
        "sglang", argv, f"http://127.0.0.1:{port}/health", log_dir / f"sglang-{port}.log", env, STARTUP_TIMEOUT
    )
    return EngineServer("sglang", port, process)


def dynamo_servers(log_dir: Path) -> tuple[EngineServer, EngineServer]:
    """A Dynamo frontend and one mocker worker behind it (not yet started), found through file discovery so that
    neither etcd nor NATS is needed: the frontend serves dynamo_frontend_* on its HTTP port, the worker its
    vLLM-named families and Dynamo's own on its system port. Start the worker first."""
    python = venv_python("dynamo")
    model_dir = ensure_tiny_model(venv_python("vllm"), cache_dir())
    store = log_dir / "dynamo-store"
    store.mkdir(parents=True, exist_ok=True)
    common = {"DYN_FILE_KV": str(store), "DYN_DISCOVERY_BACKEND": "file", "HF_HUB_OFFLINE": "1"}
    worker_port, frontend_port = free_port(below=1 << 15), free_port()
    worker_argv = [
        str(python), "-m", "dynamo.mocker", "--model-path", str(model_dir), "--model-name", SERVED_MODEL,
        "--discovery-backend", "file", "--speedup-ratio", "10", "--block-size", "16",
        "--num-gpu-blocks-override", "512",
    ]  # fmt: skip
    worker_env = {**common, "DYN_SYSTEM_PORT": str(worker_port)}
    worker = ManagedProcess(
        "dynamo-mocker", worker_argv, f"http://127.0.0.1:{worker_port}/metrics",
        log_dir / f"dynamo-mocker-{worker_port}.log", worker_env, STARTUP_TIMEOUT,
    )  # fmt: skip
    frontend_argv = [
        str(python), "-m", "dynamo.frontend", "--http-host", "127.0.0.1", "--http-port", str(frontend_port),
        "--discovery-backend", "file",
    ]  # fmt: skip
    frontend = ManagedProcess(
        "dynamo-frontend", frontend_argv, f"http://127.0.0.1:{frontend_port}/v1/models",
        log_dir / f"dynamo-frontend-{frontend_port}.log", common, STARTUP_TIMEOUT,
    )  # fmt: skip
    return EngineServer("dynamo", frontend_port, frontend), EngineServer("vllm", worker_port, worker)
