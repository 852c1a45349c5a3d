"""The shape of an engine table: the data every adapter in exporter/engines/ fills in.

A table says which families an engine has and which unified family each becomes; the normalizer holds all
the logic that applies it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal


@dataclass(frozen=True)
class Row:
    """One engine family mapped onto one unified family."""

    source: str  # engine family name without prefix; counters without "_total" (the normalizer adds it back)
    unified: str  # a family name of exporter/schema.py
    take: str = "family"  # family | sum (a histogram's _sum as a counter) | count (its _count)
    scale: float = 1.0  # multiply values (and histogram bounds) into the unified unit
    # keep only source series with these label values; "5*" matches a prefix, "!x" any value but x
    match: tuple[tuple[str, str], ...] = ()
    labels: tuple[tuple[str, str], ...] = ()  # constant labels added to every output series
    value_from_labels: tuple[str, ...] = ()  # value = product of these labels (capacity from an info metric)
    times: str = ""  # value = product with this source family's value of the same labels (blocks x block size)
    # value = how many comma-separated names this label lists, read from the family's newest series only (vLLM's
    # lora_requests_info keeps one series per state it has been in, valued by when it was set)
    count_label: str = ""
    aggregate: str = "sum"  # how series that collapse once engine-only labels are dropped combine: sum | max
    fallback: bool = False  # an older name: used only when no earlier row produced the unified family
    note: str = ""  # versions and semantics, for people reading the table
    uncaptured: str = ""  # why the row stays although no capture in tests/fixtures/engines has its family
    # When a counter row's value moves: "per_step" (every scheduler step, so a long generation shows progress) or
    # "per_completion" (only when a request finishes). The stalled-engine rule reads it; token rows must say.
    counted: Literal["", "per_step", "per_completion"] = ""


@dataclass(frozen=True)
class InfoEndpoint:
    """An engine API path read once per target for identity the metrics lack (model, version)."""

    path: str
    fields: tuple[tuple[str, str], ...]  # (identity key, dotted JSON path), e.g. ("model", "data.0.id")


@dataclass(frozen=True)
class Engine:
    """Everything llm-exporter knows about one engine's /metrics."""

    engine_type: str
    prefixes: tuple[str, ...]  # longest first is not required: the normalizer tries the longest match
    rows: tuple[Row, ...]
    labels: tuple[tuple[str, str], ...] = ()  # engine label -> unified label (e.g. model_name -> model)
    ignored: tuple[str, ...] = ()  # families deliberately unmapped; a trailing * matches a name prefix
    replicas: tuple[str, ...] = ()  # labels of ranks reporting the same numbers: only the lowest rank is kept
    model_scope: str = ""  # a source family; when present, other families keep only the models it names
    info: tuple[InfoEndpoint, ...] = ()
    programs: tuple[str, ...] = ()  # program or top-level Python module names that start the engine (/proc)
    # finish_reason values of llm_requests_finished_total that are the server's failures (the availability SLO's
    # bad events); client errors (`rejected`) and client cancellations (`abort`, where the engine can tell) are not.
    failure_reasons: tuple[str, ...] = ("error",)
    # unified histogram -> the bucket bounds its series have here (unified units, after re-bucketing), from the
    # newest capture; the SLO rules pick each objective's bucket from these (tests/test_tables.py checks them).
    bounds: tuple[tuple[str, tuple[float, ...]], ...] = ()
    health: str = "/health"  # answers 503 while the engine loads its model (read only when a poll fails)
    priority: int = 100  # detection order when two tables know as many families of a scrape; lower first
    # Where the engine serves Prometheus text when its /metrics answers something else (trtllm-serve's JSON
    # iteration stats): a target whose /metrics does not parse is read here instead.
    metrics_path: str = "/metrics"
    # With an empty prefix among `prefixes`: un-prefixed families count towards detecting this engine only when a
    # sample carries this label (old trtllm-serve builds tag every series engine_type="undefined").
    bare_label: str = ""
    # Prefixes whose families break detection ties only: a Dynamo worker's gauges beside its engine's own families
    # must not make the scrape Dynamo's.
    secondary: tuple[str, ...] = ()
    unset: tuple[str, ...] = ()  # label values meaning "not set" (trtllm's "undefined"): the label is dropped
    # unified labels whose values the engine lower-cases on some families only (Dynamo's model): lower-cased on all
    lowercase: tuple[str, ...] = ()
    sources: frozenset[str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "sources", frozenset(row.source for row in self.rows))

    def bounds_of(self, unified: str) -> tuple[float, ...]:
        """The declared bucket bounds of one unified histogram; empty when the engine does not report it."""
        return dict(self.bounds).get(unified, ())

    def is_ignored(self, source: str) -> bool:
        """True if the table lists the family as deliberately unmapped."""
        return any(source == name or (name.endswith("*") and source.startswith(name[:-1])) for name in self.ignored)
