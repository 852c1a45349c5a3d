"""What /metrics serves: families turned into prometheus_client metrics and encoded by prometheus_client.

One builder for engine, GPU and self-metrics alike (`to_metric`), one prometheus_client collector over them
(`FamiliesCollector`), and prometheus_client's encoders: the text format by default, OpenMetrics when the scraper
asks for it, gzip when it accepts it.
"""

from __future__ import annotations

import gzip
from collections.abc import Callable, Iterable, Iterator

from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import Metric

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


def encoder_for(accept: str | None) -> tuple[Encoder, str]:
    """(encoder, content type) for an Accept header: OpenMetrics when asked for, else the text format."""
    return choose_encoder(accept or "")


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
