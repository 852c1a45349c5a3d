"""Which visible processes belong to which engine: command lines and process trees under /proc.

Feeds GpuCollector(engine_pids=...) for llm_gpu_engine_memory_used_bytes. A sidecar sees the engine's
processes only when it shares their PID namespace (Kubernetes: shareProcessNamespace: true, or hostPID).
"""

from __future__ import annotations

import os
from pathlib import Path

from exporter.engines import ENGINES

# engine_type -> program or top-level Python module names that start it, from each engine table's `programs`.
ENGINE_PROGRAMS = {engine.engine_type: engine.programs for engine in ENGINES.values()}
_BY_PROGRAM = {program: engine for engine, programs in ENGINE_PROGRAMS.items() for program in programs}


def engine_of_command(argv: list[str]) -> str | None:
    """The engine a command line starts, judged by the words before its first long option."""
    for arg in argv:
        if arg.startswith("--"):
            break
        name = os.path.basename(arg)
        engine = _BY_PROGRAM.get(name) or _BY_PROGRAM.get(name.split(".")[0])
        if engine is not None:
            return engine
    return None


def _read_process(entry: Path) -> tuple[list[str], int] | None:
    """(argv, parent pid) of one /proc/<pid>, or None if it vanished or is unreadable."""
    try:
        argv = [arg for arg in (entry / "cmdline").read_bytes().decode(errors="replace").split("\0") if arg]
        stat = (entry / "stat").read_text()
    except OSError:
        return None
    # stat is "pid (comm) state ppid ...": comm may hold spaces and parentheses, so split after the last ')'.
    return argv, int(stat[stat.rindex(")") + 2 :].split()[1])


def engine_pids(proc: Path = Path("/proc")) -> dict[str, set[int]]:
    """engine_type -> PIDs of each engine process found and all of its descendants (workers hold the GPU)."""
    children: dict[int, list[int]] = {}
    roots: dict[int, str] = {}
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        process = _read_process(entry)
        if process is None:
            continue
        argv, parent = process
        pid = int(entry.name)
        children.setdefault(parent, []).append(pid)
        engine = engine_of_command(argv)
        if engine is not None:
            roots[pid] = engine
    found: dict[str, set[int]] = {}
    for root, engine in roots.items():
        pending = [root]
        while pending:
            pid = pending.pop()
            if pid not in found.setdefault(engine, set()):
                found[engine].add(pid)
                pending.extend(children.get(pid, ()))
    return found
