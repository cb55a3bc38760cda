#!/usr/bin/env bash
# Benchmark: members voting while visitors flood founder-only requests (issue 14). VOTERS
# enrolled bots vote on an open proposal about every VOTE_EVERY seconds, first alone for
# SECONDS, then again for SECONDS while FLOODERS visitor bots each send 30 founder-only
# requests a second (open, close, assign, cancel: all refused). Both runs are against the
# same server, so their acknowledgement times compare. The server is pinned to core 0 and
# the bots to core 1 where the machine has two.
#
#   make bench-flood
#   PROFILE=dev VOTERS=50 FLOODERS=50 bash tests/bench/flood.sh
set -euo pipefail
cd "$(dirname "$0")/../.."

voters=${VOTERS:-50}
flooders=${FLOODERS:-50}
seconds=${SECONDS_EACH:-30}
vote_every=${VOTE_EVERY:-1}
port=${PORT:-7559}
seed=${SEED:-17}
data=$(mktemp -d)
out=${OUT:-target/bench/flood}
mkdir -p "$out"

source tests/bench/lib.sh
bench_build

"$bots_bin" --count "$voters" --seed "$seed" --print-keys |
  "$server_bin" --data-dir "$data" admin enroll - --role member >/dev/null
id=$(bench_open_proposal "Benchmark: should the harbour open at night?" 120)

bench_start_server --metrics 127.0.0.1:$((port + 1))
bots() { $on_bots "$bots_bin" --server 127.0.0.1:$port --cert-digest "$digest" --gather "$@"; }

# Connecting takes a while in the dev profile: the bots run long enough to vote for SECONDS.
run=$((seconds + 10 + voters / 10))
bots --count "$voters" --seed "$seed" --vote "$id" --vote-every "$vote_every" \
  --seconds "$run" --report "$out/alone.json" >/dev/null 2>"$out/alone.log"

bots --count "$flooders" --seed $((seed + 1000)) --flood --seconds $((run + 5)) \
  --report "$out/flooders.json" >/dev/null 2>"$out/flooders.log" &
flood=$!
sleep 5
bots --count "$voters" --seed "$seed" --vote "$id" --vote-every "$vote_every" \
  --seconds "$run" --report "$out/flooded.json" >/dev/null 2>"$out/flooded.log"
wait $flood || echo "the flooders reported a problem (see $out/flooders.log)"
curl -s "http://127.0.0.1:$((port + 1))/metrics" >"$out/metrics.txt" || true
kill $server 2>/dev/null || true

python3 - "$out" "$profile" <<'PY'
import json, re, sys
out, profile = sys.argv[1], sys.argv[2]
def load(name):
    return json.load(open(f"{out}/{name}.json"))
def metric(name):
    try:
        text = open(f"{out}/metrics.txt").read()
    except OSError:
        return None
    values = [float(m) for m in re.findall(rf"^{name}(?:{{[^}}]*}})? (\S+)$", text, re.M)]
    return sum(values) if values else None
summary = {"profile": profile}
for run in ("alone", "flooded"):
    r = load(run)
    summary[run] = {k: r[k] for k in ("bots", "connected", "ballots_sent", "ballots_acked",
                                      "ballots_refused", "ack_ms_p50", "ack_ms_p99")}
    summary[run]["errors"] = len(r["errors"])
f = load("flooders")
summary["flooders"] = {"bots": f["bots"], "connected": f["connected"],
                       "requests_sent": f["requests_flooded"],
                       "requests_per_s": round(f["requests_flooded"] / max(f["seconds"], 1), 1),
                       "errors": len(f["errors"])}
summary["server"] = {"refusals": metric("archipelago_request_refusals_total"),
                     "storage_busy": metric("archipelago_storage_busy_total")}
json.dump(summary, open(f"{out}/summary.json", "w"), indent=2)
print(json.dumps(summary, indent=2))
PY
