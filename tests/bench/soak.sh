#!/usr/bin/env bash
# Soak: a server under a steady, mixed load for MINUTES, sampled once a minute. VOTERS
# enrolled bots stay on the capital and vote about every VOTE_EVERY seconds; ATTENDEES sit
# in the capital's town hall session (a founder among them chairs it: hands, the floor,
# chat); CHURN roaming visitors are replaced by new ones every minute (new keys, so the
# registry of visitors grows). Each minute the script records the server's RSS, its open
# files, the data directory's size, the people in the world and the frame time p99 of that
# minute (from --metrics). Everything should stay flat, or grow in a straight line that the
# load explains (stored ballots, visitors' rows).
#
#   make bench-soak                                   # 30 min, 100 + 100 + 100 bots, release
#   PROFILE=dev MINUTES=8 VOTERS=20 ATTENDEES=20 CHURN=20 bash tests/bench/soak.sh
set -euo pipefail
cd "$(dirname "$0")/../.."

minutes=${MINUTES:-30}
voters=${VOTERS:-100}
attendees=${ATTENDEES:-100}
churn=${CHURN:-100}
vote_every=${VOTE_EVERY:-5}
port=${PORT:-7561}
seed=${SEED:-23}
data=$(mktemp -d)
out=${OUT:-target/bench/soak}
mkdir -p "$out"

source tests/bench/lib.sh
bench_build

"$bots_bin" --count "$voters" --seed "$seed" --print-keys |
  "$server_bin" --data-dir "$data" admin enroll - --role member >/dev/null
"$bots_bin" --count "$attendees" --seed $((seed + 1)) --print-keys >"$out/attendees.txt"
"$server_bin" --data-dir "$data" admin enroll "$out/attendees.txt" --role member >/dev/null
head -n 1 "$out/attendees.txt" | "$server_bin" --data-dir "$data" admin enroll - --role founder >/dev/null
id=$(bench_open_proposal "Soak: keep the harbour lights on?" $((minutes + 30)))

metrics=127.0.0.1:$((port + 1))
bench_start_server --metrics "$metrics"
bots() { $on_bots "$bots_bin" --server 127.0.0.1:$port --cert-digest "$digest" "$@"; }

total=$((minutes * 60 + 30))
bots --count "$voters" --seed "$seed" --gather --vote "$id" --vote-every "$vote_every" \
  --seconds "$total" --report "$out/voters.json" >/dev/null 2>"$out/voters.log" &
voting=$!
bots --count "$attendees" --seed $((seed + 1)) --stable-keys --assemble \
  --seconds "$total" --report "$out/attendees.json" >/dev/null 2>"$out/attendees.log" &
attending=$!
(
  for m in $(seq 1 "$minutes"); do
    bots --count "$churn" --seed $((seed + 1000 + m)) --seconds 58 \
      --report "$out/churn-$m.json" >/dev/null 2>>"$out/churn.log" || true
  done
) &

# minute, RSS kB, open files, data dir bytes, people in the world, frame buckets (cumulative)
: >"$out/samples.txt"
for m in $(seq 0 "$minutes"); do
  [ "$m" -gt 0 ] && sleep 60
  rss=$(awk '/VmRSS/ {print $2}' /proc/$server/status)
  fds=$(ls /proc/$server/fd | wc -l)
  bytes=$(du -sb "$data" | cut -f1)
  page=$(curl -s "http://$metrics/metrics" || true)
  inside=$(echo "$page" | awk '/^archipelago_links\{state="in_world"\}/ {print $2}')
  buckets=$(echo "$page" | awk '/^archipelago_frame_seconds_bucket/ {
    match($0, /le="[^"]*"/); le = substr($0, RSTART + 4, RLENGTH - 5); printf "%s=%s,", le, $2 }')
  echo "$m $rss $fds $bytes ${inside:-0} ${buckets:-none}" >>"$out/samples.txt"
done
# The long-running bots end 30 s after the last sample and write their reports.
wait $voting || echo "the voters reported a problem (see $out/voters.log)"
wait $attending || echo "the attendees reported a problem (see $out/attendees.log)"
kill $server 2>/dev/null || true

python3 - "$out" "$profile" "$voters" "$attendees" "$churn" <<'PY'
import json, sys
out, profile = sys.argv[1], sys.argv[2]
voters, attendees, churn = map(int, sys.argv[3:6])
rows = []
for line in open(f"{out}/samples.txt"):
    m, rss, fds, size, inside, buckets = line.split()
    counts = {}
    if buckets != "none":
        for part in buckets.strip(",").split(","):
            le, n = part.split("=")
            counts[le] = float(n)
    rows.append({"minute": int(m), "rss_mb": int(rss) / 1024, "open_files": int(fds),
                 "data_mb": int(size) / 2**20, "in_world": int(float(inside)), "buckets": counts})
# Frame time p99 of each minute, from the change in the cumulative buckets.
for before, now in zip(rows, rows[1:]):
    bounds = sorted((float(le) if le != "+Inf" else float("inf"), le) for le in now["buckets"])
    total = now["buckets"].get("+Inf", 0) - before["buckets"].get("+Inf", 0)
    p99 = None
    for bound, le in bounds:
        if total and now["buckets"][le] - before["buckets"].get(le, 0) >= 0.99 * total:
            p99 = bound
            break
    now["frame_p99_ms_at_most"] = None if p99 is None else round(p99 * 1000, 1)
def slope(key):
    xs = [r["minute"] for r in rows[1:]]
    ys = [r[key] for r in rows[1:]]
    if len(xs) < 2:
        return 0.0
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)
reports = {name: json.load(open(f"{out}/{name}.json")) for name in ("voters", "attendees")}
summary = {
    "profile": profile, "voters": voters, "attendees": attendees, "churn_per_minute": churn,
    "minutes": rows[-1]["minute"],
    "per_minute": [{k: v for k, v in r.items() if k != "buckets"} for r in rows],
    "growth_per_minute": {k: round(slope(k), 3) for k in ("rss_mb", "open_files", "data_mb")},
    "ballots": {k: reports["voters"][k] for k in ("ballots_sent", "ballots_acked",
                                                   "ballots_refused", "ack_ms_p50", "ack_ms_p99")},
    "errors": {name: len(r["errors"]) for name, r in reports.items()},
}
json.dump(summary, open(f"{out}/summary.json", "w"), indent=2)
print(json.dumps(summary, indent=2))
PY
