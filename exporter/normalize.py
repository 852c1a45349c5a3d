"""Map one engine scrape onto the unified schema: the only place adapter logic lives.

Handles prefix variants, `_created` dropping, `_total` handling, label renames and engine-only labels,
exact re-bucketing to canonical bounds, unit scaling, derived counters and older-name fallbacks.
Metrics an engine lacks stay absent; nothing is synthesized.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from exporter import schema
from exporter.family import Family, Sample
from exporter.table import Engine, Row

# Families every Python or HTTP server exposes; they are nobody's engine metrics.
RUNTIME_PREFIXES = ("python_", "process_", "http_", "go_", "promhttp_")

_BUCKET_TOLERANCE = 1e-9


@dataclass
class Result:
    """The unified families of one scrape and what of the scrape they came from."""

    families: list[Family]
    mapped: list[str] = field(default_factory=list)  # engine families a row used
    sources: set[str] = field(default_factory=set)  # their table names
    unmapped: list[str] = field(default_factory=list)  # engine families no row maps and the table does not ignore
    ignored: list[str] = field(default_factory=list)  # engine families the table deliberately leaves out


def source_name(engine: Engine, family: Family) -> tuple[Family, str] | None:
    """The family regrouped as the table sees it and its table name; None when it lacks the engine's prefixes."""
    name = family.name
    prefix = max((p for p in engine.prefixes if name.startswith(p)), key=len, default=None)
    if prefix is None:
        return None
    source = name[len(prefix):]
    if family.type == "counter" and source.endswith("_total"):
        source = source[: -len("_total")]
    if family.type == "unknown" and source not in engine.sources:
        return _untyped_base(family, source)
    return family, source


def _is_created(family: Family) -> bool:
    # prometheus_client writes a `<name>_created` gauge per counter and histogram (vLLM V1, TRT-LLM).
    return family.name.endswith("_created")


def detect(families: Sequence[Family], engines: Iterable[Engine]) -> Engine | None:
    """The engine whose table knows most of these families; None if no table knows any."""
    best: tuple[int, Engine | None] = (0, None)
    for engine in engines:
        known = 0
        for family in families:
            resolved = source_name(engine, family)
            if resolved is not None and (resolved[1] in engine.sources or engine.is_ignored(resolved[1])):
                known += 1
        if known > best[0]:
            best = (known, engine)
    return best[1]


def format_bound(bound: float) -> str:
    """Spell a histogram bound as prometheus_client does (0.001, 1.0, +Inf)."""
    return "+Inf" if math.isinf(bound) else repr(float(bound))


class _Output:
    """Unified samples being assembled, keyed by series, with collapse-by-aggregation."""

    def __init__(self) -> None:
        self.values: dict[str, dict[tuple[str, tuple[tuple[str, str], ...]], float]] = {}

    def add(self, family: str, name: str, labels: dict[str, str], value: float, aggregate: str) -> None:
        series = self.values.setdefault(family, {})
        key = (name, tuple(labels.items()))
        if key in series:
            series[key] = max(series[key], value) if aggregate == "max" else series[key] + value
        else:
            series[key] = value


class Normalizer:
    """Applies one engine table to scrapes of one target."""

    def __init__(self, engine: Engine, target: str, model: str = "", histogram_buckets: str = "canonical"):
        self.engine = engine
        self.target = target
        self.model = model or "unknown"
        self.histogram_buckets = histogram_buckets
        self.renames = dict(engine.labels)
        self.keep_only = dict(engine.keep_only)
        self.rows_by_source: dict[str, list[Row]] = {}
        for row in engine.rows:
            schema.spec(row.unified)  # fail at start-up, not at scrape time, on a name the schema lacks
            self.rows_by_source.setdefault(row.source, []).append(row)

    def normalize(self, families: Sequence[Family]) -> Result:
        """The unified families for one parsed scrape, in schema order."""
        result = Result(families=[])
        output = _Output()
        produced: set[str] = set()
        pending: list[tuple[Row, Family]] = []
        scope: set[str] = set()
        for family in families:
            if _is_created(family) or family.name.startswith(RUNTIME_PREFIXES):
                continue
            resolved = source_name(self.engine, family)
            if resolved is None:
                continue
            family, source = resolved
            if source == self.engine.model_scope:
                scope.update(self._models(family))
            rows = self.rows_by_source.get(source)
            if rows:
                result.mapped.append(family.name)
                result.sources.add(source)
                pending.extend((row, family) for row in rows)
            elif self.engine.is_ignored(source):
                result.ignored.append(family.name)
            else:
                result.unmapped.append(family.name)
        order = {row: index for index, row in enumerate(self.engine.rows)}
        pending.sort(key=lambda item: order[item[0]])
        for row, family in pending:
            if row.fallback and row.unified in produced:
                continue
            if self._apply(row, family, output, scope):
                produced.add(row.unified)
        result.families = self._families(output)
        return result

    def _labels(self, row: Row, sample: Sample, allowed: frozenset[str]) -> dict[str, str] | None:
        labels = {"engine_type": self.engine.engine_type, "model": self.model, "target": self.target}
        for name, value in sample.labels.items():
            if name in self.keep_only and value != self.keep_only[name]:
                return None
            unified = self.renames.get(name, name)
            if unified in allowed and unified not in ("engine_type", "target"):
                labels[unified] = value
        labels.update(row.labels)
        return labels

    def _models(self, family: Family) -> set[str]:
        return {v for s in family.samples for k, v in s.labels.items() if self.renames.get(k, k) == "model"}

    def _apply(self, row: Row, family: Family, output: _Output, scope: set[str]) -> bool:
        spec = schema.spec(row.unified)
        allowed = frozenset(spec.labels) | frozenset(schema.OPTIONAL_ENGINE_LABELS)
        wanted = dict(row.match)
        added = False
        for sample in _lowest_ranks(family.samples, self.engine.replicas):
            if any(sample.labels.get(k, "") != v for k, v in wanted.items()):  # absent == empty, as in PromQL
                continue
            suffix = sample.name[len(family.name):] if sample.name.startswith(family.name) else ""
            if row.take != "family":
                if suffix != f"_{row.take}":
                    continue
                suffix = ""
            labels = self._labels(row, sample, allowed)
            if labels is None or (scope and labels["model"] not in scope and labels["model"] != self.model):
                continue
            value = sample.value
            if row.value_from_labels:
                try:
                    value = math.prod(float(sample.labels[name]) for name in row.value_from_labels)
                except (KeyError, ValueError):
                    continue
            if spec.type == "histogram":
                if suffix == "_bucket":
                    if "le" not in sample.labels:
                        continue
                    labels["le"] = format_bound(float(sample.labels["le"]) * row.scale)
                elif suffix == "_sum":
                    value *= row.scale
                elif suffix != "_count":
                    continue
                name = spec.name + suffix
            else:
                if suffix not in ("", "_total"):
                    continue
                value *= row.scale
                name = spec.name
            output.add(spec.name, name, labels, value, row.aggregate)
            added = True
        return added

    def _families(self, output: _Output) -> list[Family]:
        self._inherit_model(output)
        families = []
        for spec in schema.ENGINE_SPECS:
            series = output.values.get(spec.name)
            if not series:
                continue
            samples = [Sample(name, dict(labels), value) for (name, labels), value in series.items()]
            if spec.type == "histogram":
                samples = self._rebucket(spec, samples)
            families.append(Family(spec.name, spec.type, spec.help, samples))
        return families

    def _inherit_model(self, output: _Output) -> None:
        """Series without a model label (vLLM's cache_config_info) take the one model the others name."""
        if self.model != "unknown":
            return
        named = {dict(labels).get("model") for series in output.values.values() for _, labels in series}
        named.discard("unknown")
        if len(named) != 1:
            return
        model = named.pop()
        for family, series in output.values.items():
            output.values[family] = {
                (name, tuple((k, model if k == "model" and v == "unknown" else v) for k, v in labels)): value
                for (name, labels), value in series.items()}

    def _rebucket(self, spec: schema.Spec, samples: list[Sample]) -> list[Sample]:
        """Group a histogram's samples per series; keep canonical bounds the source has (exact, never interpolated)."""
        groups: dict[tuple[tuple[str, str], ...], list[Sample]] = {}
        for sample in samples:
            key = tuple((k, v) for k, v in sample.labels.items() if k != "le")
            groups.setdefault(key, []).append(sample)
        out: list[Sample] = []
        for group in groups.values():
            buckets = sorted((s for s in group if s.name.endswith("_bucket")), key=lambda s: float(s.labels["le"]))
            if self.histogram_buckets == "canonical" and spec.buckets:
                kept = [s for s in buckets if _canonical(float(s.labels["le"]), spec.buckets)]
                # A source sharing no finite bound with the canonical set (TGI's 1.5^k bounds) would be left with
                # +Inf alone and lose every quantile: its own bounds pass through instead.
                if any(not math.isinf(float(s.labels["le"])) for s in kept):
                    buckets = kept
            out.extend(buckets)
            out.extend(s for s in group if not s.name.endswith("_bucket"))
        return out


def _untyped_base(family: Family, source: str) -> tuple[Family, str]:
    """A headerless `x_bucket`/`x_sum`/`x_count`/`x_total` sample group, regrouped under its base name `x`."""
    for suffix in ("_bucket", "_sum", "_count", "_total"):
        if source.endswith(suffix) and family.name.endswith(suffix):
            return Family(family.name[: -len(suffix)], "unknown", family.help, family.samples), source[: -len(suffix)]
    return family, source


def _lowest_ranks(samples: list[Sample], replicas: tuple[str, ...]) -> list[Sample]:
    """Of samples differing only in a replica label (SGLang's tp_rank), those with the lowest rank."""
    for label in replicas:
        def rank(sample: Sample, label: str = label) -> tuple[int, str]:
            value = sample.labels[label]
            return (int(value), "") if value.isdigit() else (1 << 62, value)

        def series(sample: Sample, label: str = label) -> tuple[str, frozenset[tuple[str, str]]]:
            return sample.name, frozenset((k, v) for k, v in sample.labels.items() if k != label)

        lowest: dict[tuple[str, frozenset[tuple[str, str]]], tuple[int, str]] = {}
        for sample in samples:
            if label in sample.labels:
                key = series(sample)
                lowest[key] = min(lowest.get(key, rank(sample)), rank(sample))
        samples = [s for s in samples if label not in s.labels or lowest[series(s)] == rank(s)]
    return samples


def _canonical(bound: float, canonical: tuple[float, ...]) -> bool:
    return math.isinf(bound) or any(math.isclose(bound, c, rel_tol=_BUCKET_TOLERANCE) for c in canonical)
