#!/usr/bin/env bash
# Benchmark: a crowd in one place. For each size in SIZES, a fresh release server pinned to
# core 0 and that many light bots (--gather --light: milling about the capital's plaza, all
# in one App, see client/src/bots/light.rs) pinned to core 1,
# for SECONDS_ once all are in. Reports, per size: the server's frame p50/p99/max (its own
# timing), its CPU, its memory per connected avatar (peak RSS minus the RSS before anyone
# connected, over N), downstream bytes per client (median and p99, from the bots), what the
# crowd frames carried by tier, the longest anyone went without an update, and how often
# the bots really ran and how many inputs they really sent. Then HALL (full) bots (1,000; 0 for none) attend a session in the capital's
# town hall whose capacity the founder bot sets to all of them (--assemble --hall-capacity).
# Writes target/bench/crowd/summary.json and draws crowd.png from it.
#
#   make bench-crowd
#   SIZES="100 250" HALL=0 SECONDS_=30 PROFILE=dev bash tests/bench/crowd.sh
#   SIZES=500 HALL=0 BOT_ARGS=--plain bash tests/bench/crowd.sh   # bots without looks or gestures
set -euo pipefail
cd "$(dirname "$0")/../.."

sizes=${SIZES:-100 250 500 1000}
hall=${HALL:-1000}
seconds=${SECONDS_:-120}
port=${PORT:-7559}
out=${OUT:-target/bench/crowd}
mkdir -p "$out"
data=$(mktemp -d)

source tests/bench/lib.sh
bench_build

rm -f "$out"/run-*.json "$out"/hall-*.json
seed=31
# measure LABEL N BOT-ARGS...: a fresh server, N bots with BOT-ARGS, one row in run-LABEL.json.
measure() {
  local label=$1 n=$2
  shift 2
  rm -rf "$data" && mkdir -p "$data"
  if [ "$label" = hall ]; then
    # Every attendee a member, the first the founder who opens the session and chairs it.
    "$bots_bin" --count "$n" --seed "$seed" --print-keys >"$out/keys.txt"
    "$server_bin" --data-dir "$data" admin enroll "$out/keys.txt" --role member >/dev/null
    head -n 1 "$out/keys.txt" | "$server_bin" --data-dir "$data" admin enroll - --role founder >/dev/null
  fi
  bench_start_server
  sleep 2
  local baseline
  baseline=$(awk '/VmRSS/ {print $2}' "/proc/$server/status")
  bench_sample_server "$out/server-$label.txt"
  # Connecting takes a while for a thousand: the bots run for that and SECONDS_ more.
  local connect=$((10 + n / 25))
  $on_bots "$bots_bin" --server 127.0.0.1:$port --cert-digest "$digest" --count "$n" \
    --seed "$seed" --seconds $((connect + seconds)) --report "$out/bots-$label.json" "$@" \
    >/dev/null 2>"$out/bots-$label.log" || echo "bots at $label reported a problem (see $out/bots-$label.log)"
  sleep 6 # the server writes tick-stats.json every 5 s
  cp "$data/tick-stats.json" "$out/tick-$label.json"
  kill $server 2>/dev/null || true
  kill $sampler 2>/dev/null || true
  wait $server 2>/dev/null || true
  python3 - "$out" "$label" "$n" "$ticks" "$baseline" "$connect" "$profile" <<'PY'
import json, sys
out, label, n, ticks, baseline, connect, profile = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]), sys.argv[7]
rows = [list(map(float, l.split())) for l in open(f"{out}/server-{label}.txt") if l.strip()]
start = rows[0][0]
steady = [r for r in rows if r[0] - start >= connect] or rows
cpu = ((steady[-1][1] + steady[-1][2]) - (steady[0][1] + steady[0][2])) / ticks / max(steady[-1][0] - steady[0][0], 1e-9)
peak = max(r[3] for r in rows)
bots = json.load(open(f"{out}/bots-{label}.json"))
tick = json.load(open(f"{out}/tick-{label}.json"))
crowd = tick["crowd"]
frames = max(crowd["frames"], 1)
row = {
    "label": label, "n": n, "connected": bots["connected"], "profile": profile,
    "frame_p50_ms": round(tick["run_p50_ms"], 2), "frame_p99_ms": round(tick["run_p99_ms"], 2),
    "frame_max_ms": round(tick["run_max_ms"], 2),
    "server_cpu_percent": round(cpu * 100, 1),
    "memory_per_avatar_kb": round((peak - baseline) / max(bots["connected"], 1), 1),
    "peak_rss_mib": round(peak / 1024, 1), "baseline_rss_mib": round(baseline / 1024, 1),
    "down_kb_s_median": round(bots["median_down_bytes_per_s"] / 1000, 2),
    "down_kb_s_p99": round(bots["p99_down_bytes_per_s"] / 1000, 2),
    "crowd_bytes_per_frame": round(crowd["bytes"] / frames, 1),
    "crowd_entries_per_frame": {k: round(crowd[k] / frames, 1) for k in ("near", "middle", "far")},
    "crowd_frames_per_s_per_bot": round(bots["median_crowd_frames_per_s"], 1),
    "crowd_entries_per_s_per_bot": round(bots["median_crowd_entries_per_s"], 1),
    "longest_unsent_s": round(crowd["oldest_s"], 2),
    "crowd_state_kb_per_viewer": round(crowd["state_bytes"] / max(crowd["viewers"], 1) / 1024, 1),
    "min_avatars_seen": bots["min_avatars_seen"], "median_avatars_seen": bots["median_avatars_seen"],
    "bot_passes_per_s": round(bots["passes_per_s"], 1),
    "inputs_per_s_per_bot": round(bots["median_inputs_per_s"], 1),
    "input_messages_per_s_per_bot": bots.get("median_input_messages_per_s") and round(bots["median_input_messages_per_s"], 1),
    "disconnects": bots.get("disconnects", 0),
    "errors": bots["errors"][:3],
}
json.dump(row, open(f"{out}/{'hall' if label == 'hall' else 'run'}-{n}.json", "w"), indent=2)
print(json.dumps(row))
PY
}

for n in $sizes; do
  # shellcheck disable=SC2086 # BOT_ARGS is a list of flags (e.g. --plain).
  measure "$n" "$n" --gather --light ${BOT_ARGS:-}
done
if [ "$hall" -gt 0 ]; then
  measure hall "$hall" --stable-keys --assemble --hall-capacity "$hall"
fi

python3 - "$out" <<'PY'
import glob, json, sys
out = sys.argv[1]
rows = sorted((json.load(open(f)) for f in glob.glob(f"{out}/run-*.json")), key=lambda r: r["n"])
halls = [json.load(open(f)) for f in glob.glob(f"{out}/hall-*.json")]
json.dump(rows, open(f"{out}/summary.json", "w"), indent=2)
json.dump(halls, open(f"{out}/hall.json", "w"), indent=2)
print(json.dumps(rows + halls, indent=2))
PY
python3 tests/bench/crowd_chart.py "$out/summary.json" "$out/crowd.png" ||
  echo "no chart: python3 with matplotlib is needed (pip install matplotlib)"
