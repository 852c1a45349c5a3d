#!/usr/bin/env bash
# The test command: install what the tests need, then run every test (live engines included).
# Heavy installs (Debian packages, engine venvs) are cached under $LLM_EXPORTER_CACHE for the rest of the run.
set -euo pipefail
cd "$(dirname "$0")/.."
started=$SECONDS
step() { echo "[test.sh +$((SECONDS - started))s] $*"; }

cache=${LLM_EXPORTER_CACHE:-$HOME/.cache/llm-exporter}
mkdir -p "$cache"
# llama-server takes ~10 minutes to build on 2 cores: build it while the other installs run.
step "building llama-server in the background (log: $cache/build-llamacpp.log)"
bash scripts/build-llamacpp.sh > "$cache/build-llamacpp.log" 2>&1 &
build_pid=$!

step "installing llm-exporter with its test extras"
python3 -m pip install -q -e '.[test]'
if [ -f scripts/install-test-deps.sh ]; then
  step "installing test dependencies (Prometheus, Alertmanager, engines)"
  bash scripts/install-test-deps.sh
elif ! command -v promtool >/dev/null; then
  step "installing Debian's prometheus (promtool)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prometheus prometheus-alertmanager >/dev/null
fi
step "waiting for the llama-server build"
wait "$build_pid" || { tail -50 "$cache/build-llamacpp.log"; exit 1; }
tail -1 "$cache/build-llamacpp.log"
step "static gates: ruff format --check, ruff check, mypy --strict exporter"
bash scripts/check.sh
step "pytest"
# Every tool was installed above: a missing promtool, amtool, kubectl, hadolint or openssl fails its tests here
# instead of skipping them.
LLM_EXPORTER_REQUIRE_TOOLS=1 python3 -m pytest "$@"
step "done"
