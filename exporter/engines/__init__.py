"""Engine tables, one module per engine_type, discovered: adding an engine is adding its module here.

Every list of engines elsewhere (config and CLI choices, GPU process names, docs, test expectations) derives
from ENGINES.
"""

from __future__ import annotations

import importlib
import pkgutil

from exporter.table import Engine


def _discover() -> dict[str, Engine]:
    """engine_type -> table of every module in this package, in detection order (the tables' `priority`)."""
    found: list[Engine] = []
    for module in pkgutil.iter_modules(__path__):
        engine = importlib.import_module(f"{__name__}.{module.name}").ENGINE
        if engine.engine_type != module.name:
            raise ValueError(
                f"exporter/engines/{module.name}.py: ENGINE.engine_type must be {module.name!r}, "
                f"got {engine.engine_type!r}"
            )
        found.append(engine)
    return {engine.engine_type: engine for engine in sorted(found, key=lambda e: (e.priority, e.engine_type))}


ENGINES: dict[str, Engine] = _discover()


def engines_counting(unified: str, how: str) -> tuple[str, ...]:
    """engine_types whose rows for a unified counter move `how` ("per_step" or "per_completion")."""
    return tuple(
        engine.engine_type
        for engine in ENGINES.values()
        if any(row.unified == unified and row.counted == how for row in engine.rows)
    )
