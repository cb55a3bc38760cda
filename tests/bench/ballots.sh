#!/usr/bin/env bash
# Benchmark: ballots over real QUIC. N enrolled bots connect while a proposal is a draft; the
# proposal is then opened from the admin CLI, so every bot votes at once, and each bot votes
# again (replacing its ballot) about every VOTE_EVERY seconds for VOTING seconds. Afterwards
# the proposal is closed, exported and verified, and every acknowledged ballot is looked up
# in the export: nothing acknowledged may be missing.
#
#   BOTS=1000 make bench-ballots
#   PROFILE=dev BOTS=200 VOTE_EVERY=0.4 bash tests/bench/ballots.sh
#   LIGHT=1 CONNECT=40 BOTS=1000 bash tests/bench/ballots.sh   # light bots (one App for all)
#   SPREAD=" " LIGHT=1 ...   # the voters roam the archipelago instead of gathering in one place
set -euo pipefail
cd "$(dirname "$0")/../.."

bots=${BOTS:-1000}
voting=${VOTING:-10}
vote_every=${VOTE_EVERY:-1}
# Seconds the bots get to connect before the proposal opens.
connect=${CONNECT:-$((20 + bots / 10))}
port=${PORT:-7558}
seed=${SEED:-11}
data=$(mktemp -d)
out=${OUT:-target/bench/ballots}
mkdir -p "$out"

source tests/bench/lib.sh
bench_build

"$bots_bin" --count "$bots" --seed "$seed" --print-keys |
  "$server_bin" --data-dir "$data" admin enroll - --role member
id=$("$server_bin" --data-dir "$data" admin proposal create --json \
  --title "Benchmark: which site for the second harbour?" --type single \
  --option "North cove" --option "Lagoon" --option "Old pier" --minutes 60 --quorum 1 |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')

bench_start_server

$on_bots "$bots_bin" --server 127.0.0.1:$port --cert-digest "$digest" --count "$bots" --seed "$seed" \
  ${SPREAD:---gather} ${LIGHT:+--light} --vote "$id" --vote-every "$vote_every" --seconds $((connect + voting)) \
  --report "$out/bots.json" >/dev/null 2>"$out/bots.log" &
swarm=$!
sleep "$connect"
opened_at=$(date +%s.%N)
"$server_bin" --data-dir "$data" admin proposal open "$id" >/dev/null
wait $swarm || echo "the swarm reported a problem (see $out/bots.log)"
# Let the last acknowledged commits land, then fix the result and export it.
sleep 1
"$server_bin" --data-dir "$data" admin proposal close "$id" >/dev/null
"$server_bin" --data-dir "$data" admin proposal export "$id" --out "$out/export.json"
verified=true
"$server_bin" verify "$out/export.json" --json >"$out/verify.json" || verified=false
kill $server 2>/dev/null || true

python3 - "$out" "$opened_at" "$verified" "$profile" "$bots" <<'PY'
import json, sys
out, opened_at, verified, profile, bots = sys.argv[1], float(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5])
report = json.load(open(f"{out}/bots.json"))
export = json.load(open(f"{out}/export.json"))
ballots = export["ballots"]
stamps = sorted(b["stored_at"] for b in ballots)
# stored_at has one-second resolution: the window counts whole seconds, first to last.
window = (stamps[-1] - stamps[0] + 1) if stamps else 0
first_second = sum(1 for s in stamps if stamps and s == stamps[0])
summary = {
    "bots": report["bots"], "connected": report["connected"],
    "ballots_sent": report["ballots_sent"], "ballots_acked": report["ballots_acked"],
    "ballots_refused": report["ballots_refused"],
    "ballots_stored": len(ballots),
    # Every acknowledged ballot is stored; a few more may be stored whose ack was in flight
    # when the bots stopped.
    "acked_but_missing": max(report["ballots_acked"] - len(ballots), 0),
    "voters_counted": len({b["voter"] for b in ballots}),
    "stored_in_first_second": first_second,
    "committed_per_s": round(len(ballots) / window, 1) if window else 0,
    "ack_ms_p50": report["ack_ms_p50"], "ack_ms_p99": report["ack_ms_p99"],
    "verify_matches": verified == "true",
    "profile": profile,
}
json.dump(summary, open(f"{out}/summary.json", "w"), indent=2)
print(json.dumps(summary, indent=2))
PY
