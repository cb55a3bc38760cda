#!/usr/bin/env bash
# Benchmark: a release server plus N bots for S seconds on this machine.
# Reports server frame time p50/p99 (from the server's own timing), server CPU and RSS
# (sampled from /proc every second), and downstream bytes/s per client (from the bots).
#
#   make bench                      # 100 bots, 60 s
#   BOTS=200 SECONDS_=30 make bench
set -euo pipefail
cd "$(dirname "$0")/../.."

bots=${BOTS:-100}
seconds=${SECONDS_:-60}
port=${PORT:-7557}
data=$(mktemp -d)
out=${OUT:-target/bench}
mkdir -p "$out"

# PROFILE=dev measures the dev profile (dependencies optimised, our crates at -O1) when a
# release build is not at hand.
source tests/bench/lib.sh
bench_build

bench_start_server

# The server's CPU time and resident memory, once a second while the bots run.
bench_sample_server "$out/server-samples.txt"

$on_bots "$bots_bin" --server 127.0.0.1:$port --cert-digest "$digest" \
  --count "$bots" --seconds "$seconds" --report "$out/bots.json" >/dev/null
kill $sampler 2>/dev/null || true
sleep 0.2

python3 - "$out" "$ticks" "$data" "$profile" <<'PY'
import json, sys
out, ticks, data = sys.argv[1], int(sys.argv[2]), sys.argv[3]
rows = [list(map(float, l.split())) for l in open(f"{out}/server-samples.txt") if l.strip()]
# Skip the first 10 s (connecting) when computing steady-state CPU.
start = rows[0][0]
steady = [r for r in rows if r[0] - start >= 10] or rows
cpu = ((steady[-1][1] + steady[-1][2]) - (steady[0][1] + steady[0][2])) / ticks / max(steady[-1][0] - steady[0][0], 1e-9)
rss = max(r[3] for r in rows) / 1024
bots = json.load(open(f"{out}/bots.json"))
tick = json.load(open(f"{data}/tick-stats.json"))
summary = {
    "bots": bots["bots"], "connected": bots["connected"],
    "min_avatars_seen": bots["min_avatars_seen"], "median_avatars_seen": bots["median_avatars_seen"],
    "server_frame_p50_ms": round(tick["run_p50_ms"], 3), "server_frame_p99_ms": round(tick["run_p99_ms"], 3),
    "server_cpu_percent_of_one_core": round(cpu * 100, 1), "server_peak_rss_mib": round(rss, 1),
    "median_down_bytes_per_s_per_client": round(bots["median_down_bytes_per_s"]),
    "errors": bots["errors"][:5],
    "profile": sys.argv[4],
}
json.dump(summary, open(f"{out}/summary.json", "w"), indent=2)
print(json.dumps(summary, indent=2))
PY
