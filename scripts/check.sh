#!/usr/bin/env bash
# The static gates STYLE.md promises: formatting, lint and strict typing of the package (scripts/test.sh runs it).
set -euo pipefail
cd "$(dirname "$0")/.."
status=0
python3 -m ruff format --check exporter tests scripts bench || status=1
python3 -m ruff check exporter tests scripts bench || status=1
python3 -m mypy --strict exporter || status=1
exit "$status"
