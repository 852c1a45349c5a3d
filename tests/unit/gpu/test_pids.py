"""Engine process discovery from a /proc tree (exporter/gpu/pids.py)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from exporter.gpu.pids import engine_of_command, engine_pids


def add_process(proc: Path, pid: int, parent: int, argv: list[str], comm: str = "python3") -> None:
    entry = proc / str(pid)
    entry.mkdir()
    (entry / "cmdline").write_bytes(b"\0".join(arg.encode() for arg in argv) + b"\0")
    (entry / "stat").write_text(f"{pid} ({comm}) S {parent} {pid} {pid} 0 -1 4194560 0 0 0 0\n")


@pytest.mark.parametrize(
    ("argv", "engine"),
    [
        (["/usr/local/bin/vllm", "serve", "Qwen/Qwen3-0.6B"], "vllm"),
        (["python3", "-m", "vllm.entrypoints.openai.api_server", "--model", "m"], "vllm"),
        (["python3", "-m", "sglang.launch_server", "--model-path", "m"], "sglang"),
        (["/opt/conda/bin/python3.11", "/opt/conda/bin/text-generation-server", "serve", "m"], "tgi"),
        (["text-generation-launcher", "--model-id", "m"], "tgi"),
        (["/app/llama-server", "-m", "/models/tiny.gguf"], "llamacpp"),
        (["tritonserver", "--model-repository=/models"], "triton"),
        (["python3", "train.py", "--model", "/models/vllm"], None),  # an argument, not the program
        (["bash", "-c", "sleep 1"], None),
    ],
)
def test_engine_of_command(argv: list[str], engine: str | None) -> None:
    assert engine_of_command(argv) == engine


def test_engine_pids_include_the_engines_descendants(tmp_path: Path) -> None:
    add_process(tmp_path, 1, 0, ["/pause"], comm="pause")
    add_process(tmp_path, 7, 1, ["/usr/local/bin/vllm", "serve", "m"])
    add_process(
        tmp_path, 42, 7, ["python3", "-c", "from multiprocessing.spawn import spawn_main"], comm="VLLM::EngineCore"
    )
    add_process(
        tmp_path, 43, 42, ["python3", "-c", "from multiprocessing.spawn import spawn_main"], comm="VLLM::Worker (TP0)"
    )
    add_process(tmp_path, 9, 1, ["llm-exporter", "--target", "http://127.0.0.1:8000"])
    add_process(tmp_path, 11, 1, ["/app/llama-server", "-m", "x.gguf"], comm="llama-server")
    (tmp_path / "self").mkdir()
    (tmp_path / "99").mkdir()  # exited between listing and reading
    assert engine_pids(tmp_path) == {"vllm": {7, 42, 43}, "llamacpp": {11}}


def test_engine_pids_reads_this_machines_proc() -> None:
    assert all(os.getpid() not in pids for pids in engine_pids().values())
