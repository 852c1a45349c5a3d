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

# source family of a `times` row -> its values by label set, for one scrape
_Factors = dict[str, dict[frozenset[tuple[str, str]], float]]


@dataclass
class Result:
    """The unified families of one scrape and what of the scrape they came from."""

    families: list[Family]
    mapped: list[str] = field(default_factory=list)  # engine families a row used
    sources: set[str] = field(default_factory=set)  # their table names
    unmapped: list[str] = field(default_factory=list)  # engine families no row maps and the table does not ignore
    ignored: list[str] = field(default_factory=list)  # engine families the table deliberately leaves out


class Resolver:
    """Which table name each engine family has, memoized: every poll asks again about the same few hundred names.

    Owned by one target (and its normalizer), so targets never share or evict each other's entries; bounded
    for a target whose family names never repeat.
    """

    LIMIT = 50_000

    def __init__(self) -> None:
        self._known: dict[tuple[str, str, str], tuple[str, str, bool] | None] = {}

    def resolve(self, engine: Engine, name: str, kind: str) -> tuple[str, str, bool] | None:
        """(table name, name to regroup under, whether the table knows it) of a family; None without a prefix."""
        key = (engine.engine_type, name, kind)
        if key in self._known:
            return self._known[key]
        prefix = max((p for p in engine.prefixes if name.startswith(p)), key=len, default=None)
        found: tuple[str, str, bool] | None = None
        if prefix is not None:
            source, base = name[len(prefix) :], name
            if kind == "counter" and source.endswith("_total"):
                source = source[: -len("_total")]
            if kind == "unknown" and source not in engine.sources:
                source, base = _untyped_base(name, source)
            found = (source, base, source in engine.sources or engine.is_ignored(source))
        if len(self._known) >= self.LIMIT:
            self._known.clear()
        self._known[key] = found
        return found

    def source_name(self, engine: Engine, family: Family) -> tuple[Family, str] | None:
        """The family regrouped as the table sees it and its table name; None without the engine's prefixes."""
        resolved = self.resolve(engine, family.name, family.type)
        if resolved is None:
            return None
        source, base, _ = resolved
        if base != family.name:
            return Family(base, family.type, family.help, family.samples), source
        return family, source


def _is_created(family: Family) -> bool:
    # prometheus_client writes a `<name>_created` gauge per counter and histogram (vLLM V1, TRT-LLM).
    return family.name.endswith("_created")


def detect(families: Sequence[Family], engines: Iterable[Engine], resolver: Resolver | None = None) -> Engine | None:
    """The engine whose table knows most of these families; None if no table knows any."""
    resolver = resolver or Resolver()
    best: tuple[tuple[int, int], Engine | None] = ((0, 0), None)
    for engine in engines:
        known = [0, 0]  # families by the engine's own prefixes, by its secondary ones
        for family in families:
            resolved = resolver.resolve(engine, family.name, family.type)
            if resolved is not None and resolved[2] and _claims(engine, family):
                known[family.name.startswith(engine.secondary) if engine.secondary else 0] += 1
        if (known[0], known[1]) > best[0]:
            best = ((known[0], known[1]), engine)
    return best[1]


def _claims(engine: Engine, family: Family) -> bool:
    """False for an un-prefixed family lacking the label that marks this engine's un-prefixed families."""
    if not engine.bare_label or family.name.startswith(tuple(p for p in engine.prefixes if p)):
        return True
    return any(engine.bare_label in sample.labels for sample in family.samples)


def _matches(value: str, wanted: str) -> bool:
    """A label value against a row's `match` value: equal, anything but what follows `!`, or a `*`-ended prefix."""
    if wanted.startswith("!"):
        return value != wanted[1:]
    return value.startswith(wanted[:-1]) if wanted.endswith("*") else value == wanted


def format_bound(bound: float) -> str:
    """Spell a histogram bound as prometheus_client does (0.001, 1.0, +Inf)."""
    return "+Inf" if math.isinf(bound) else repr(float(bound))


class _Output:
    """Unified samples being assembled, keyed by series, with collapse-by-aggregation."""

    def __init__(self) -> None:
        self.values: dict[str, dict[tuple[str, tuple[tuple[str, str], ...]], float]] = {}
        self.models: dict[str, set[str]] = {}  # unified family -> the model label values of its series

    def add(self, family: str, name: str, labels: dict[str, str], value: float, aggregate: str) -> None:
        series = self.values.get(family)
        if series is None:
            series = self.values[family] = {}
            self.models[family] = set()
        self.models[family].add(labels["model"])
        key = (name, tuple(labels.items()))
        if key in series:
            series[key] = max(series[key], value) if aggregate == "max" else series[key] + value
        else:
            series[key] = value


class _LabelMap(dict[str, str]):
    """Engine label -> the unified label it becomes in one unified family ("" when dropped), filled as met."""

    def __init__(self, renames: dict[str, str], allowed: frozenset[str]):
        super().__init__()
        self.renames = renames
        self.allowed = allowed

    def __missing__(self, name: str) -> str:
        unified = self.renames.get(name, name)
        self[name] = kept = unified if unified in self.allowed and unified not in ("engine_type", "target") else ""
        return kept


@dataclass
class _Plan:
    """What applying one row needs, worked out once per Normalizer rather than once per sample."""

    spec: schema.Spec
    labels: _LabelMap
    bounds: dict[str, str] = field(default_factory=dict)  # source `le` -> scaled, canonically spelled `le`


class Normalizer:
    """Applies one engine table to scrapes of one target."""

    def __init__(
        self,
        engine: Engine,
        target: str,
        model: str = "",
        histogram_buckets: str = "canonical",
        resolver: Resolver | None = None,
    ):
        self.engine = engine
        self.resolver = resolver or Resolver()
        self.target = target
        self.model = model or "unknown"
        self.histogram_buckets = histogram_buckets
        self.renames = dict(engine.labels)
        self.rows_by_source: dict[str, list[Row]] = {}
        self._plans: dict[Row, _Plan] = {}
        self._order = {row: index for index, row in enumerate(engine.rows)}
        self._times = frozenset(row.times for row in engine.rows if row.times)
        # spec name -> source `le` -> (bound, whether it is one of the canonical bounds)
        self._bound_kinds: dict[str, dict[str, tuple[float, bool]]] = {}
        for row in engine.rows:
            spec = schema.spec(row.unified)  # fail at start-up, not at scrape time, on a name the schema lacks
            self.rows_by_source.setdefault(row.source, []).append(row)
            allowed = frozenset(spec.labels) | frozenset(schema.OPTIONAL_ENGINE_LABELS)
            self._plans[row] = _Plan(spec, _LabelMap(self.renames, allowed))

    def normalize(self, families: Sequence[Family]) -> Result:
        """The unified families for one parsed scrape, in schema order."""
        result = Result(families=[])
        output = _Output()
        produced: set[str] = set()
        pending: list[tuple[Row, Family]] = []
        scope: set[str] = set()
        factors: _Factors = {}
        for family in families:
            if _is_created(family) or family.name.startswith(RUNTIME_PREFIXES):
                continue
            resolved = self.resolver.source_name(self.engine, family)
            if resolved is None:
                continue
            family, source = resolved
            if source == self.engine.model_scope:
                scope.update(self._models(family))
            if source in self._times:
                factors[source] = {frozenset(s.labels.items()): s.value for s in family.samples}
            rows = self.rows_by_source.get(source)
            if source in self._times and not rows:
                result.mapped.append(family.name)
                result.sources.add(source)
            elif rows:
                result.mapped.append(family.name)
                result.sources.add(source)
                if self.engine.replicas:  # once per family, however many rows read it
                    family = Family(
                        family.name, family.type, family.help, _lowest_ranks(family.samples, self.engine.replicas)
                    )
                pending.extend((row, family) for row in rows)
            elif self.engine.is_ignored(source):
                result.ignored.append(family.name)
            else:
                result.unmapped.append(family.name)
        order = self._order
        pending.sort(key=lambda item: order[item[0]])
        for row, family in pending:
            if row.fallback and row.unified in produced:
                continue
            if self._apply(row, family, output, scope, factors):
                produced.add(row.unified)
        result.families = self._families(output)
        return result

    def _labels(self, row: Row, sample: Sample, names: _LabelMap) -> dict[str, str]:
        labels = {"engine_type": self.engine.engine_type, "model": self.model, "target": self.target}
        unset, lowercase = self.engine.unset, self.engine.lowercase
        for name, value in sample.labels.items():
            unified = names[name]
            if unified and value not in unset:
                labels[unified] = value.lower() if unified in lowercase else value
        if row.labels:
            labels.update(row.labels)
        return labels

    def _models(self, family: Family) -> set[str]:
        return {v for s in family.samples for k, v in s.labels.items() if self.renames.get(k, k) == "model"}

    def _apply(self, row: Row, family: Family, output: _Output, scope: set[str], factors: _Factors) -> bool:
        plan = self._plans[row]
        spec = plan.spec
        wanted = row.match
        take = "" if row.take == "family" else f"_{row.take}"
        family_name = family.name
        added = False
        samples = family.samples
        if row.count_label and samples:
            samples = [max(samples, key=lambda sample: sample.value)]
        for sample in samples:
            if wanted and not all(_matches(sample.labels.get(k, ""), v) for k, v in wanted):  # absent == empty
                continue
            suffix = sample.name[len(family_name) :] if sample.name.startswith(family_name) else ""
            if take:
                if suffix != take:
                    continue
                suffix = ""
            labels = self._labels(row, sample, plan.labels)
            if scope and labels["model"] not in scope and labels["model"] != self.model:
                continue
            value = sample.value
            if row.value_from_labels:
                try:
                    value = math.prod(float(sample.labels[name]) for name in row.value_from_labels)
                except (KeyError, ValueError):
                    continue
            if row.count_label:
                value = float(len([name for name in sample.labels.get(row.count_label, "").split(",") if name]))
            if row.times:
                factor = _factor(factors.get(row.times, {}), sample)
                if factor is None:
                    continue
                value *= factor
            if spec.type == "histogram":
                if suffix == "_bucket":
                    le = sample.labels.get("le")
                    if le is None:
                        continue
                    bound = plan.bounds.get(le)
                    if bound is None:
                        try:
                            bound = plan.bounds[le] = format_bound(float(le) * row.scale)
                        except ValueError:  # a bucket whose bound is no number means nothing: drop it
                            continue
                    labels["le"] = bound
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
        named = set().union(*output.models.values())
        named.discard("unknown")
        if len(named) != 1:
            return
        model = named.pop()
        for family, series in output.values.items():
            if "unknown" not in output.models[family]:
                continue
            output.values[family] = {
                (name, tuple((k, model if k == "model" and v == "unknown" else v) for k, v in labels)): value
                for (name, labels), value in series.items()
            }

    def _rebucket(self, spec: schema.Spec, samples: list[Sample]) -> list[Sample]:
        """Group a histogram's samples per series; keep canonical bounds the source has (exact, never interpolated)."""
        kinds = self._bound_kinds.setdefault(spec.name, {})
        canonical = spec.buckets if self.histogram_buckets == "canonical" else None

        def kind(sample: Sample) -> tuple[float, bool]:
            le = sample.labels["le"]
            found = kinds.get(le)
            if found is None:
                bound = float(le)
                found = kinds[le] = (bound, canonical is not None and _canonical(bound, canonical))
            return found

        groups: dict[tuple[tuple[str, str], ...], list[Sample]] = {}
        for sample in samples:
            key = tuple((k, v) for k, v in sample.labels.items() if k != "le")
            groups.setdefault(key, []).append(sample)
        out: list[Sample] = []
        for group in groups.values():
            buckets = sorted((s for s in group if s.name.endswith("_bucket")), key=lambda s: kind(s)[0])
            if canonical:
                kept = [s for s in buckets if kind(s)[1]]
                # A source sharing no finite bound with the canonical set (TGI's 1.5^k bounds) would be left with
                # +Inf alone and lose every quantile: its own bounds pass through instead.
                if any(not math.isinf(kind(s)[0]) for s in kept):
                    buckets = kept
            out.extend(buckets)
            out.extend(s for s in group if not s.name.endswith("_bucket"))
        return out


def _factor(values: dict[frozenset[tuple[str, str]], float], sample: Sample) -> float | None:
    """A `times` family's value with the sample's labels (or its only value); None when the scrape lacks it."""
    found = values.get(frozenset(sample.labels.items()))
    if found is None and len(values) == 1:
        found = next(iter(values.values()))
    return found


def _untyped_base(name: str, source: str) -> tuple[str, str]:
    """(table name, family name) of a headerless `x_bucket`/`x_sum`/`x_count`/`x_total` group: its base `x`."""
    for suffix in ("_bucket", "_sum", "_count", "_total"):
        if source.endswith(suffix) and name.endswith(suffix):
            return source[: -len(suffix)], name[: -len(suffix)]
    return source, name


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
