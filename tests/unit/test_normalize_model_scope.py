"""Engine.model_scope: per-model series count only for the models the scope family names, when it is present."""

from __future__ import annotations

from exporter.normalize import Normalizer
from exporter.parse import parse
from exporter.table import Engine, Row

ENGINE = Engine(
    engine_type="triton",
    prefixes=("nv_",),
    model_scope="llm_requests",
    rows=(Row("llm_requests", "llm_requests_running"), Row("success", "llm_requests_finished_total")),
)

PIPELINE = """# TYPE nv_success counter
nv_success{model="ensemble",version="1"} 10
nv_success{model="preprocessing",version="1"} 10
nv_success{model="llm",version="1"} 10
"""
SCOPE = '# TYPE nv_llm_requests gauge\nnv_llm_requests{model="llm",version="1"} 2\n'


def _finished(text: str, model: str = "") -> dict[str, float]:
    families = Normalizer(ENGINE, "t", model).normalize(parse(text)).families
    return {s.labels["model"]: s.value for f in families if f.name == "llm_requests_finished_total" for s in f.samples}


def test_only_models_named_by_the_scope_family_are_kept():
    assert _finished(PIPELINE + SCOPE) == {"llm": 10.0}


def test_without_the_scope_family_every_model_is_kept():
    assert _finished(PIPELINE) == {"ensemble": 10.0, "preprocessing": 10.0, "llm": 10.0}


def test_series_without_a_model_label_keep_the_configured_model():
    assert _finished('# TYPE nv_success counter\nnv_success{version="1"} 4\n' + SCOPE, model="cfg") == {"cfg": 4.0}
