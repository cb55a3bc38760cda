#!/usr/bin/env bash
# Benchmark: one town hall in session. N enrolled bots attend the session in the capital's
# hall (a founder bot opens it with the default capacity and chairs it; the others walk in,
# move about, raise and lower hands, chat), while M roaming bots stay outside the hall.
# Reports the server's frame time p50/p99, CPU and RSS, and downstream bytes/s per client
# inside and outside the hall.
#
#   make bench-assembly                     # 200 in the hall, 20 outside, 60 s
#   PROFILE=dev BOTS=200 SECONDS_=60 bash tests/bench/assembly.sh
set -euo pipefail
cd "$(dirname "$0")/../.."

bots=${BOTS:-200}
outside=${OUTSIDE:-20}
seconds=${SECONDS_:-60}
port=${PORT:-7559}
seed=${SEED:-21}
data=$(mktemp -d)
out=${OUT:-target/bench/assembly}
mkdir -p "$out"

source tests/bench/lib.sh
bench_build

# Every attendee is a member; the first is the founder who chairs.
"$bots_bin" --count "$bots" --seed "$seed" --print-keys >"$out/keys.txt"
"$server_bin" --data-dir "$data" admin enroll "$out/keys.txt" --role member >/dev/null
head -n 1 "$out/keys.txt" | "$server_bin" --data-dir "$data" admin enroll - --role founder >/dev/null

bench_start_server

# The server's CPU time and resident memory, once a second while the bots run.
bench_sample_server "$out/server-samples.txt"

$on_bots "$bots_bin" --server 127.0.0.1:$port --cert-digest "$digest" --count "$bots" --seed "$seed" \
  --stable-keys --assemble --seconds "$seconds" --report "$out/hall.json" \
  >/dev/null 2>"$out/hall.log" &
hall=$!
$on_bots "$bots_bin" --server 127.0.0.1:$port --cert-digest "$digest" --count "$outside" \
  --seed $((seed + 1)) --seconds "$seconds" --report "$out/outside.json" \
  >/dev/null 2>"$out/outside.log" &
roamers=$!
wait $hall || echo "the hall's bots reported a problem (see $out/hall.log)"
wait $roamers || echo "the roaming bots reported a problem (see $out/outside.log)"
kill $sampler 2>/dev/null || true
sleep 0.2
"$server_bin" --data-dir "$data" admin session minutes 1 --json >"$out/minutes.json" || true

python3 - "$out" "$ticks" "$data" "$profile" <<'PY'
import json, sys
out, ticks, data, profile = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
rows = [list(map(float, l.split())) for l in open(f"{out}/server-samples.txt") if l.strip()]
start = rows[0][0]
steady = [r for r in rows if r[0] - start >= 20] or rows
cpu = ((steady[-1][1] + steady[-1][2]) - (steady[0][1] + steady[0][2])) / ticks / max(steady[-1][0] - steady[0][0], 1e-9)
rss = max(r[3] for r in rows) / 1024
hall = json.load(open(f"{out}/hall.json"))
outside = json.load(open(f"{out}/outside.json"))
tick = json.load(open(f"{data}/tick-stats.json"))
try:
    minutes = json.load(open(f"{out}/minutes.json"))
    kinds = {}
    for e in minutes["entries"]:
        kinds[e["kind"]] = kinds.get(e["kind"], 0) + 1
    attendees = len(minutes["attendees"])
    overflow = sum(1 for e in minutes["entries"] if e["kind"] == "joined" and "overflow" in e["detail"])
except Exception as e:
    kinds, attendees, overflow = {"error": str(e)}, 0, 0
summary = {
    "hall_bots": hall["bots"], "hall_connected": hall["connected"],
    "outside_bots": outside["bots"], "outside_connected": outside["connected"],
    "server_frame_p50_ms": round(tick["run_p50_ms"], 3), "server_frame_p99_ms": round(tick["run_p99_ms"], 3),
    "server_cpu_percent_of_one_core": round(cpu * 100, 1), "server_peak_rss_mib": round(rss, 1),
    "down_bytes_per_s_per_client_in_hall_median": round(hall["median_down_bytes_per_s"]),
    "down_bytes_per_s_per_client_outside_median": round(outside["median_down_bytes_per_s"]),
    "median_avatars_seen_in_hall": hall["median_avatars_seen"], "median_most_avatars_seen_in_hall": hall["median_most_avatars_seen"],
    "minutes_attendees": attendees, "joined_via_overflow": overflow, "minutes_entries_by_kind": kinds,
    "errors": (hall["errors"] + outside["errors"])[:5],
    "profile": profile,
}
json.dump(summary, open(f"{out}/summary.json", "w"), indent=2)
print(json.dumps(summary, indent=2))
PY
