"""docs/METRICS.md, docs/runbooks.md and the README table are in sync with the schema, the engine tables and the
runbooks kept beside the alerts."""

from __future__ import annotations

import shutil
from pathlib import Path

from exporter.mixin.docs import write

REPO = Path(__file__).resolve().parents[3]


def test_docs_in_sync(tmp_path):
    shutil.copy(REPO / "README.md", tmp_path / "README.md")
    written = write(tmp_path)
    assert {p.relative_to(tmp_path).as_posix() for p in written} == {"docs/METRICS.md", "docs/runbooks.md", "README.md"}
    for path in written:
        relative = path.relative_to(tmp_path)
        assert path.read_text(encoding="utf-8") == (REPO / relative).read_text(encoding="utf-8"), (
            f"{relative} is stale: run `llm-exporter generate docs`"
        )
