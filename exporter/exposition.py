"""What /metrics serves: families turned into prometheus_client metrics and encoded by prometheus_client.

One builder for engine, GPU and self-metrics alike (`to_metric`), one prometheus_client collector over them
(`FamiliesCollector`), and the encoders: OpenMetrics (prometheus_client's) when the scraper asks for it, the text
format otherwise, gzip when it accepts it. The text format is prometheus_client's byte for byte, from an encoder
that remembers each series' line prefix between polls: re-escaping every label of every series was half of what a
steady poll cost.
"""

from __future__ import annotations

import gzip
from collections.abc import Callable, Iterable, Iterator
from typing import cast

from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import Metric
from prometheus_client.utils import floatToGoString

from exporter.family import Family

# prometheus_client names a counter or an info metric without the suffix its samples carry.
_SUFFIX = {"counter": "_total", "info": "_info"}


def to_metric(family: Family) -> Metric:
    """The prometheus_client metric of a family, samples unchanged."""
    name = family.name
    suffix = _SUFFIX.get(family.type)
    if suffix and name.endswith(suffix):
        name = name[: -len(suffix)]
    metric = Metric(name, family.help, family.type)
    # Our Sample reads as theirs (see exporter.family): the list is taken as it is.
    metric.samples = family.samples  # type: ignore[assignment]
    return metric


class FamiliesCollector:
    """A prometheus_client collector over families built elsewhere (client_python's Collector protocol)."""

    def __init__(self, families: Iterable[Family]):
        self.metrics = [to_metric(family) for family in families if family.samples]

    def collect(self) -> Iterator[Metric]:
        """The metrics, in the order the families came."""
        return iter(self.metrics)


Encoder = Callable[[FamiliesCollector], bytes]

# prometheus_client's spelling of a value (1.0, 1e+20, +Inf, NaN); untyped there.
_go_float = cast(Callable[[float], str], floatToGoString)

# The text format's names for the types prometheus_client keeps under OpenMetrics names.
_TEXT_TYPE = {"info": "gauge", "stateset": "gauge", "gaugehistogram": "histogram", "unknown": "untyped"}


def _escape_value(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


class TextEncoder:
    """prometheus_client's text format (generate_latest) for families built here, remembering line prefixes.

    Families built here hold only valid names and never OpenMetrics-only samples (`_created`, `_gsum`,
    `_gcount`), so no name needs escaping and every sample stays under its family's header.
    """

    def __init__(self) -> None:
        self._prefixes: dict[tuple[str, tuple[tuple[str, str], ...]], str] = {}

    def _prefix(self, name: str, labels: dict[str, str]) -> str:
        if not labels:
            return f"{name} "
        pairs = ",".join(f'{key}="{_escape_value(value)}"' for key, value in sorted(labels.items()))
        return f"{name}{{{pairs}}} "

    def __call__(self, collector: FamiliesCollector) -> bytes:
        """The text exposition of the collector's metrics."""
        known, used = self._prefixes, {}
        output = []
        for metric in collector.collect():
            name = metric.name + _SUFFIX.get(metric.type, "")
            text = metric.documentation.replace("\\", "\\\\").replace("\n", "\\n")
            output.append(f"# HELP {name} {text}\n# TYPE {name} {_TEXT_TYPE.get(metric.type, metric.type)}\n")
            for sample in metric.samples:
                key = (sample.name, tuple(sample.labels.items()))
                prefix = used[key] = known.get(key) or self._prefix(sample.name, sample.labels)
                output.append(f"{prefix}{_go_float(sample.value)}\n")
        self._prefixes = used  # only the series of this body: the memory follows the series that exist
        return "".join(output).encode("utf-8")


# A family's header lines and sample lines in one format: bodies are joined family by family.
Part = tuple[bytes, bytes]


def family_parts(encoder: Encoder, families: list[Family]) -> dict[str, Part]:
    """Each non-empty family's (header, sample lines) as the encoder writes them, by family name.

    Both formats start a family with its `# HELP` line and end its header with the `# TYPE` line (no family built
    here has a unit); escaping keeps every other line from starting with `#`. OpenMetrics' `# EOF` is left out.
    """
    names = [family.name for family in families if family.samples]
    if not names:
        return {}
    body = encoder(FamiliesCollector(families)).removesuffix(b"# EOF\n")
    starts = [0]
    found = body.find(b"\n# HELP ")
    while found != -1:
        starts.append(found + 1)
        found = body.find(b"\n# HELP ", found + 1)
    if len(starts) != len(names):
        raise ValueError(f"{len(starts)} family headers for {len(names)} families")
    parts = {}
    for name, start, end in zip(names, starts, [*starts[1:], len(body)], strict=True):
        split = body.index(b"\n", body.index(b"\n# TYPE ", start) + 1) + 1
        parts[name] = (body[start:split], body[split:end])
    return parts


def join_parts(order: Iterable[str], shares: list[dict[str, Part]]) -> bytes:
    """One body from several sources' parts: each family (in the given order) once, its samples source by source."""
    output = []
    for name in order:
        held = [share[name] for share in shares if name in share]
        if held:
            output.append(held[0][0])
            output.extend(lines for _, lines in held)
    return b"".join(output)


def encoder_for(accept: str | None, text: TextEncoder | None = None) -> tuple[Encoder, str]:
    """(encoder, content type) for an Accept header: OpenMetrics when asked for, else the text format."""
    encoder, content_type = choose_encoder(accept or "")
    if content_type.startswith("text/plain"):
        return text or TextEncoder(), content_type
    return encoder, content_type


def accepts_gzip(accept_encoding: str | None) -> bool:
    """True if an Accept-Encoding header admits gzip."""
    for item in (accept_encoding or "").split(","):
        coding, _, params = item.strip().partition(";")
        if coding.strip().lower() == "gzip":
            return params.replace(" ", "").lower() not in ("q=0", "q=0.0", "q=0.00", "q=0.000")
    return False


def compress(body: bytes) -> bytes:
    """gzip at a level that costs little CPU for most of the size gain on metrics text."""
    return gzip.compress(body, compresslevel=1, mtime=0)


def render(families: Iterable[Family]) -> str:
    """The text-format exposition of the families (goldens, probe output, tests)."""
    encoder, _ = encoder_for(None)
    return encoder(FamiliesCollector(families)).decode("utf-8")
