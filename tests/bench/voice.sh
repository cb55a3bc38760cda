#!/usr/bin/env bash
# Benchmark: voice in a full town hall. N enrolled bots attend the session in the capital's
# hall (a founder bot opens it and chairs; the hall holds 150, the rest follow from the
# overflow). The chair and the one holding the floor talk all the time, and ten others murmur
# to their neighbours, saying a sentence made by espeak-ng over and over. The same run is
# made twice, without voice and with it, and compared: the server's CPU, its frame time, the
# voice bytes each listener receives in the hall and in the overflow, and mouth-to-ear latency
# (send to arrival, on this machine's clock).
#
#   make bench-voice                           # 200 bots, 60 s each run
#   PROFILE=dev BOTS=200 SECONDS_=60 bash tests/bench/voice.sh
set -euo pipefail
cd "$(dirname "$0")/../.."

bots=${BOTS:-200}
seconds=${SECONDS_:-60}
port=${PORT:-7561}
seed=${SEED:-31}
murmurs=${MURMURS:-10}
out=${OUT:-target/bench/voice}
mkdir -p "$out"

source tests/bench/lib.sh
bench_build

espeak-ng -s 150 -w "$out/said.wav" \
  "The harbour needs a second pier before the winter storms arrive, and the survey shows where."
sox "$out/said.wav" -r 48000 -c 1 -b 16 "$out/speech.wav"
"$bots_bin" --count "$bots" --seed "$seed" --print-keys >"$out/keys.txt"

# One run: LABEL, then the bots' extra arguments.
run() {
  local label=$1
  shift
  data=$(mktemp -d)
  "$server_bin" --data-dir "$data" admin enroll "$out/keys.txt" --role member >/dev/null
  head -n 1 "$out/keys.txt" | "$server_bin" --data-dir "$data" admin enroll - --role founder >/dev/null
  bench_start_server
  bench_sample_server "$out/$label-samples.txt"
  $on_bots "$bots_bin" --server 127.0.0.1:$port --cert-digest "$digest" --count "$bots" \
    --seed "$seed" --stable-keys --assemble --seconds "$seconds" --report "$out/$label.json" \
    "$@" >/dev/null 2>"$out/$label.log" || echo "the $label run's bots reported a problem (see $out/$label.log)"
  kill $sampler 2>/dev/null || true
  cp "$data/tick-stats.json" "$out/$label-ticks.json" 2>/dev/null || true
  kill $server 2>/dev/null || true
  wait $server 2>/dev/null || true
  rm -rf "$data"
}

run quiet
# The chair is the first bot; it and the next MURMURS talk all the time, and whoever holds
# the floor.
run voice --speak "$out/speech.wav" --speakers $((murmurs + 1))

python3 - "$out" "$ticks" "$profile" <<'PY'
import json, sys
out, ticks, profile = sys.argv[1], int(sys.argv[2]), sys.argv[3]
def measure(label):
    rows = [list(map(float, l.split())) for l in open(f"{out}/{label}-samples.txt") if l.strip()]
    start = rows[0][0]
    steady = [r for r in rows if r[0] - start >= 20] or rows
    cpu = ((steady[-1][1] + steady[-1][2]) - (steady[0][1] + steady[0][2])) / ticks / max(steady[-1][0] - steady[0][0], 1e-9)
    report = json.load(open(f"{out}/{label}.json"))
    try:
        tick = json.load(open(f"{out}/{label}-ticks.json"))
    except Exception:
        tick = {"run_p50_ms": float("nan"), "run_p99_ms": float("nan")}
    return {
        "bots": report["bots"], "connected": report["connected"],
        "server_cpu_percent_of_one_core": round(cpu * 100, 1),
        "server_frame_p50_ms": round(tick["run_p50_ms"], 3), "server_frame_p99_ms": round(tick["run_p99_ms"], 3),
        "down_bytes_per_s_per_client_median": round(report["median_down_bytes_per_s"]),
        "voice_bytes_per_s_per_listener_hall_median": round(report["voice_bytes_per_s_main_median"]),
        "voice_bytes_per_s_per_listener_overflow_median": round(report["voice_bytes_per_s_overflow_median"]),
        "voice_latency_ms_p50": report["voice_latency_ms_p50"], "voice_latency_ms_p99": report["voice_latency_ms_p99"],
        "errors": report["errors"][:3],
    }
quiet, voice = measure("quiet"), measure("voice")
summary = {"profile": profile, "quiet": quiet, "voice": voice,
           "server_cpu_added_by_voice_percent_of_one_core": round(voice["server_cpu_percent_of_one_core"] - quiet["server_cpu_percent_of_one_core"], 1)}
json.dump(summary, open(f"{out}/summary.json", "w"), indent=2)
print(json.dumps(summary, indent=2))
PY
