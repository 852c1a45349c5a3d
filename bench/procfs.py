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


def memory_mb(pid: int) -> dict[str, float]:
    """VmRSS, VmHWM (peak), RssAnon and RssFile of a process, in MB (10**6 bytes)."""
    fields = ("VmRSS", "VmHWM", "RssAnon", "RssFile")
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    status = dict(line.split(":", 1) for line in lines if line.startswith(fields))
    return {key: round(int(status[key].split()[0]) * 1024 / 1e6, 1) for key in fields}


def largest_mappings(pid: int, count: int = 8) -> dict[str, float]:
    """Resident MB by mapped file (or [heap], [anonymous]...) from /proc/<pid>/smaps, largest first."""
    by_path: dict[str, int] = {}
    path = "?"
    for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
        head = line.split()
        if head and "-" in head[0] and not head[0].endswith(":"):  # a mapping's header line: range perms ... path
            path = head[5] if len(head) > 5 else "[anonymous]"
        elif head and head[0] == "Rss:":
            by_path[path] = by_path.get(path, 0) + int(head[1])
    top = sorted(by_path.items(), key=lambda item: -item[1])[:count]
    return {name: round(kb * 1024 / 1e6, 1) for name, kb in top}
