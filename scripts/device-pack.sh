#!/usr/bin/env bash
# Packs what the GPU machine needs to run the device bench (scripts/device-bench.sh) into
# .cache/device (git-ignored), to be sent with the `device` tool's `carry: [".cache/device"]`.
#
# The GPU machine gets the working tree (tracked files: fixtures, profiles, sources) plus the carried
# paths, 64 MiB in all, and may have no Node. So this packs, xz-compressed:
#   node.tar.xz      this machine's node binary (Node 20, x64 Linux)                    ~25 MB
#   ort.tar.xz       onnxruntime-node's JS + its linux/x64 binding and libonnxruntime (WebGPU EP
#                    included) + onnxruntime-common                                    ~14 MB
#   bench.mjs        scripts/bench-scale.ts and the engine bundled by esbuild into one ES module
#                    (onnxruntime-node left external), so no tsx / node_modules are needed there
# and prints the total, which must stay under the carry limit with room for the tracked files.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
out=.cache/device
rm -rf "$out"
mkdir -p "$out/stage/node/bin" "$out/stage/node_modules"

cp "$(command -v node)" "$out/stage/node/bin/node"
tar -C "$out/stage" -cJf "$out/node.tar.xz" node

mkdir -p "$out/stage/node_modules/onnxruntime-node/bin/napi-v6/linux"
cp -r node_modules/onnxruntime-node/dist node_modules/onnxruntime-node/package.json "$out/stage/node_modules/onnxruntime-node/"
cp -r node_modules/onnxruntime-node/bin/napi-v6/linux/x64 "$out/stage/node_modules/onnxruntime-node/bin/napi-v6/linux/"
cp -r node_modules/onnxruntime-common "$out/stage/node_modules/"
tar -C "$out/stage" -cJf "$out/ort.tar.xz" node_modules

npx esbuild scripts/bench-scale.ts --bundle --platform=node --format=esm --target=node20 \
  --external:onnxruntime-node --external:better-sqlite3 \
  --banner:js="import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" \
  --define:process.env.EAC_BUNDLED=\"1\" --outfile="$out/bench.mjs" --log-level=warning
rm -rf "$out/stage"
du -b "$out"/* | awk '{ t += $1; printf "%8.1f MiB  %s\n", $1 / 1048576, $2 } END { printf "%8.1f MiB  total\n", t / 1048576 }'
