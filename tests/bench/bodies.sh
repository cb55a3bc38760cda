#!/usr/bin/env bash
# Benchmark: what the jointed bodies cost the client to draw, against the capsules they
# replaced. The client binary runs under Xvfb (Mesa's software Vulkan, as the tests) with
# `--bench-bodies N`: N walkers of mixed looks circle in the capital's plaza in view, with no
# server; it alternates bodies and capsules (two phases of each, 15 s apiece after a warm-up)
# and writes both frame rates and their ratio.
#
#   make bench-bodies                  # 300 walkers, release build
#   PROFILE=dev N=300 bash tests/bench/bodies.sh
set -euo pipefail
cd "$(dirname "$0")/../.."

n=${N:-300}
out=${OUT:-target/bench/bodies}
mkdir -p "$out" "$out/xdg"

profile=${PROFILE:-release}
dir=debug
flags=
if [ "$profile" = release ]; then
  dir=release
  flags=--release
fi
cargo build $flags --workspace --features archipelago-client/render --bins

# No server: the walkers are the client's own. The digest only has to be well formed.
XDG_RUNTIME_DIR="$out/xdg" WGPU_BACKEND=vulkan ARCHIPELAGO_SOLAR_HOUR=15 \
  timeout 600 xvfb-run -a -s "-screen 0 1280x720x24" \
  "./target/$dir/archipelago" --server 127.0.0.1:9 --cert-digest "$(printf '0%.0s' $(seq 1 64))" \
  --name Bench --identity "$out/bench.key" --bench-bodies "$n" "$out/bodies.json" \
  >"$out/client.log" 2>&1
cat "$out/bodies.json"
