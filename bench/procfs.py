"""CPU time and resident memory of processes, read from /proc (robust to other load on a shared machine)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

_TICKS = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")
T = TypeVar("T")


def _stat_fields(pid: int) -> list[str]:
    text = Path(f"/proc/{pid}/stat").read_text()
    # The command name (field 2) is in parentheses and may hold spaces: the rest starts after the last ")".
    return text[text.rindex(")") + 2 :].split()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process has used so far (its own threads, not its children)."""
    fields = _stat_fields(pid)
    return (int(fields[11]) + int(fields[12])) / _TICKS  # utime, stime: fields 14 and 15 of proc(5)


def rss_bytes(pid: int) -> int:
    """Resident set size of the process."""
    return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * _PAGE


def group(pgid: int) -> list[int]:
    """Live processes of a process group (an engine server and its workers)."""
    members = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int(_stat_fields(int(entry.name))[2]) == pgid:
                    members.append(int(entry.name))
            except (OSError, ValueError):
                continue  # exited while we looked
    return members


def _over_group(pgid: int, read: Callable[[int], T]) -> list[T]:
    """`read(pid)` for every live process of the group, leaving out those that exit while read."""
    values = []
    for pid in group(pgid):
        try:
            values.append(read(pid))
        except OSError:
            continue
    return values


def group_cpu_seconds(pgid: int) -> float:
    """CPU time of every live process in the group."""
    return sum(_over_group(pgid, cpu_seconds), 0.0)


def group_rss_bytes(pgid: int) -> int:
    """Resident memory of every live process in the group (shared pages counted once per process)."""
    return sum(_over_group(pgid, rss_bytes))
