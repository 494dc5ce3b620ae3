#!/usr/bin/env bash
# Packs what the GPU machine needs to run the device bench (scripts/device-bench.sh) into
# .cache/device (git-ignored), to be sent with the `device` tool's `carry: [".cache/device"]`.
#
# The GPU machine gets the working tree (tracked and untracked-not-ignored files) plus the carried
# paths, 64 MiB in all, and may have neither Node nor the Vulkan loader (its image is a CUDA/PyTorch
# one). So this packs, xz -9e compressed:
#   node.tar.xz      this machine's node binary (Node 20, x64 Linux), debug symbols stripped   ~21 MiB
#   ort.tar.xz       onnxruntime-node's JS + its linux/x64 binding and libonnxruntime (WebGPU EP
#                    included) + onnxruntime-common                                           ~12 MiB
#   libvulkan1.deb   Debian's Vulkan loader, unpacked there only if the machine has none (Dawn
#                    dlopens libvulkan.so.1; the NVIDIA driver brings the ICD)               ~0.2 MiB
#   bench.mjs        scripts/bench-scale.ts and the engine bundled by esbuild into one ES module
#                    (onnxruntime-node left external), so no tsx / node_modules are needed there
# and fails unless the working tree plus the pack stay under 64 MiB with 1 MiB to spare
# (tests/bench/device-pack.test.ts keeps the tracked files within their share).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
out=.cache/device
rm -rf "$out"
mkdir -p "$out/stage/node/bin" "$out/stage/node_modules"

cp "$(command -v node)" "$out/stage/node/bin/node"
strip "$out/stage/node/bin/node" 2>/dev/null || true
XZ_OPT='-9e -T2' tar -C "$out/stage" -cJf "$out/node.tar.xz" node

mkdir -p "$out/stage/node_modules/onnxruntime-node/bin/napi-v6/linux"
cp -r node_modules/onnxruntime-node/dist node_modules/onnxruntime-node/package.json "$out/stage/node_modules/onnxruntime-node/"
cp -r node_modules/onnxruntime-node/bin/napi-v6/linux/x64 "$out/stage/node_modules/onnxruntime-node/bin/napi-v6/linux/"
cp -r node_modules/onnxruntime-common "$out/stage/node_modules/"
XZ_OPT='-9e -T2' tar -C "$out/stage" -cJf "$out/ort.tar.xz" node_modules
(cd "$out" && apt-get download libvulkan1 >/dev/null 2>&1 && mv libvulkan1_*.deb libvulkan1.deb) ||
  echo "device-pack: could not download libvulkan1 (apt); the GPU machine must have a Vulkan loader" >&2

npx esbuild scripts/bench-scale.ts --bundle --platform=node --format=esm --target=node20 \
  --external:onnxruntime-node --external:better-sqlite3 \
  --banner:js="import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" \
  --define:process.env.EAC_BUNDLED=\"1\" --outfile="$out/bench.mjs" --log-level=warning
rm -rf "$out/stage"
du -b "$out"/* | awk '{ t += $1; printf "%8.1f MiB  %s\n", $1 / 1048576, $2 } END { printf "%8.1f MiB  pack\n", t / 1048576 }'
tree=$(git ls-files -co --exclude-standard -z | xargs -0 du -cb 2>/dev/null | tail -1 | cut -f1)
pack=$(du -cb "$out"/* | tail -1 | cut -f1)
awk -v t="$tree" -v p="$pack" 'BEGIN { printf "%8.1f MiB  working tree\n%8.1f MiB  travels (limit 64 MiB)\n", t / 1048576, (t + p) / 1048576 }'
if [ $(( tree + pack )) -gt $(( 63 * 1048576 )) ]; then
  echo "device-pack: the working tree and the pack exceed 63 MiB: the device tool would refuse the call" >&2
  exit 1
fi
