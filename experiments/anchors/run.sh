#!/bin/bash
# EAC-MEMIT's anchor count on the fixtures: the bundled fixture profile with only
# eac.memit.anchors.value changed (0.05 = the authors' top 5 %), 30 sequential edits, against MEMIT.
# Writes experiments/anchors/<fixture>-memit.json and <fixture>-eac-<fraction>.json.
set -euo pipefail
cd "$(dirname "$0")/../.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for m in gpt2 llama; do
  fx=$m-world-a
  for v in 0.05 0.1 0.2 0.4; do
    node -e '
      const fs = require("fs");
      const [fx, v, out] = process.argv.slice(1);
      const p = JSON.parse(fs.readFileSync(`resources/profiles/${fx}.json`, "utf8"));
      p.name = `${fx}-memit-anchors-${v}`;
      p.eac.memit.anchors.value = Number(v);
      fs.writeFileSync(out, JSON.stringify(p));' "$fx" "$v" "$tmp/$m-$v.json"
  done
  npm run experiment -- --model $fx --profile "$tmp/$m-0.05.json" --edits 30 --methods memit --out experiments/anchors/$m-memit.json --no-readme --checkpoints 30
  for v in 0.05 0.1 0.2 0.4; do
    npm run experiment -- --model $fx --profile "$tmp/$m-$v.json" --edits 30 --methods eac-memit --out experiments/anchors/$m-eac-$v.json --no-readme --checkpoints 30
  done
done
