#!/usr/bin/env bash
# The device bench in one call (issue 17), for a GPU machine reached with the `device` tool:
#
#   bash scripts/device-pack.sh                      # here, once: fills .cache/device
#   device run, carry [".cache/device"]:  bash scripts/device-bench.sh [webgpu|cuda] [SECONDS]
#
# Unpacks the carried node + onnxruntime-node, writes the GPT-2 XL (F32) and LLaMA-3-8B (BF16) shape
# checkpoints, and runs `bench --scale` on the GPU: generate 32 tokens, key statistics from the bundled
# corpus (400 samples for GPT-2 XL, 800 for LLaMA-3-8B: the fewest that cover d_ff = 6400 / 14336
# tokens, below which C is singular — minutes, not hours), one ROME and one EAC-ROME edit
# (optimisation steps capped at 8 on LLaMA-3-8B, printed with the results). Per phase: wall time, device memory (nvidia-smi), host peak RSS, tok/s.
# Everything is time-boxed (default 450 s in all) and each phase's result is written as it ends, to
# $OUT (the device tool's folder) or bench/, so a run cut off still returns what it measured.
#
# Locally (no GPU): EAC_DEVICE_BENCH_LAYERS=2 bash scripts/device-bench.sh webgpu runs the same on
# 2-layer checkpoints through Mesa lavapipe (source scripts/webgpu-env.sh first).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
device="${1:-webgpu}"
budget="${2:-450}"
out="${OUT:-bench}"
mkdir -p "$out"
: > "$out/device-bench.log"
pack=.cache/device
start=$(date +%s)
left() { echo $(( budget - ($(date +%s) - start) )); }

if [ -f "$pack/node.tar.xz" ]; then
  # unpacked outside the checkout, so a local try leaves nothing that would travel next time
  run_dir="${TMPDIR:-/tmp}/eac-device"
  rm -rf "$run_dir" && mkdir -p "$run_dir"
  tar -C "$run_dir" -xJf "$pack/node.tar.xz" && tar -C "$run_dir" -xJf "$pack/ort.tar.xz"
  cp "$pack/bench.mjs" "$run_dir/"
  NODE="$run_dir/node/bin/node"
  # the bundle resolves onnxruntime-node from node_modules beside itself
  BENCH=("$NODE" "$run_dir/bench.mjs")
  # resources/ (corpus, profiles) are read from this checkout
  export EAC_PACKAGE_ROOT="$PWD"
else
  NODE=node
  BENCH=(npx tsx scripts/bench-scale.ts)
fi
# Dawn (onnxruntime's WebGPU EP) dlopens the Vulkan loader; a CUDA image may lack it. The NVIDIA
# driver's ICD file is then found through VK_DRIVER_FILES (the device tool's notes name its path).
if [ "$device" = webgpu ] && ! ldconfig -p 2>/dev/null | grep -q 'libvulkan.so.1'; then
  if [ -f "$pack/libvulkan1.deb" ] && dpkg -x "$pack/libvulkan1.deb" / && ldconfig; then
    echo "device-bench: installed the carried Vulkan loader" | tee -a "$out/device-bench.log"
  else
    echo "device-bench: no Vulkan loader (libvulkan.so.1): WebGPU will fall back to the CPU" | tee -a "$out/device-bench.log"
  fi
fi
nv_icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
if [ "$device" = webgpu ] && [ -z "${VK_DRIVER_FILES:-}${VK_ICD_FILENAMES:-}" ] && [ -f "$nv_icd" ] &&
  ! ls /usr/share/vulkan/icd.d/*nvidia* /etc/vulkan/icd.d/*nvidia* >/dev/null 2>&1; then
  export VK_DRIVER_FILES="$nv_icd"
fi
echo "device-bench: $device, budget ${budget}s, node $("$NODE" --version 2>/dev/null), VK_DRIVER_FILES=${VK_DRIVER_FILES:-${VK_ICD_FILENAMES:-default}}" | tee -a "$out/device-bench.log"
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,memory.used,driver_version --format=csv | tee -a "$out/device-bench.log"
command -v vulkaninfo >/dev/null && vulkaninfo --summary 2>/dev/null | grep -E 'deviceName|driverName' | tee -a "$out/device-bench.log"

layers=()
[ -n "${EAC_DEVICE_BENCH_LAYERS:-}" ] && layers=(--layers "$EAC_DEVICE_BENCH_LAYERS")
scale_dir="${EAC_SCALE_DIR:-.cache/scale}"
run() { # model, max-steps, seconds, stats samples
  local t; t=$(left); [ "$t" -gt "$3" ] && t=$3
  [ "$t" -lt 20 ] && { echo "device-bench: no time left for $1" | tee -a "$out/device-bench.log"; return; }
  timeout --signal=TERM --kill-after=10 "$t" "${BENCH[@]}" --scale --device "$device" --make --dir "$scale_dir" "${layers[@]}" \
    --models "$1" --phases generate,stats,rome,eac-rome --stats-samples "$4" --max-steps "$2" \
    --out "$out/scale-$device-$1.json" 2>&1 | tee -a "$out/device-bench.log"
}
run gpt2-xl 20 200 400
run llama3-8b 8 "$(left)" 800
echo "device-bench: done in $(( $(date +%s) - start )) s; results in $out/scale-$device-*.json" | tee -a "$out/device-bench.log"
