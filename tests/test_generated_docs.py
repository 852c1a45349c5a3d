"""docs/METRICS.md, docs/runbooks.md and the README table are in sync with the schema, the engine tables and the
runbooks kept beside the alerts."""

from __future__ import annotations

import shutil
from pathlib import Path

from exporter.mixin.docs import write

REPO = Path(__file__).resolve().parents[1]


def test_docs_in_sync(tmp_path):
    shutil.copy(REPO / "README.md", tmp_path / "README.md")
    written = write(tmp_path)
    assert {p.relative_to(tmp_path).as_posix() for p in written} == {"docs/METRICS.md", "docs/runbooks.md", "README.md"}
    for path in written:
        relative = path.relative_to(tmp_path)
        assert path.read_text(encoding="utf-8") == (REPO / relative).read_text(encoding="utf-8"), \
            f"{relative} is stale: run `llm-exporter generate docs`"


def test_every_engine_family_has_a_source():
    text = (REPO / "docs" / "METRICS.md").read_text(encoding="utf-8")
    assert "`vllm:kv_cache_usage_perc`" in text and "`sglang:token_usage`" in text and "`tgi_queue_size`" in text
