# Shared by the bench scripts (source it from the repository root, after setting `data`).

# Builds the server and the bots in PROFILE (release unless told), in the feature set every
# build uses (the Makefile's BUILD), so a profile's crates compile once for everything.
# Sets profile, server_bin and bots_bin, and on_server / on_bots, which pin the server to
# core 0 and the bots to core 1 where there are two.
bench_build() {
  profile=${PROFILE:-release}
  local dir=debug flags=
  if [ "$profile" = release ]; then
    dir=release
    flags=--release
  fi
  cargo build $flags --workspace --features archipelago-client/render --bins
  server_bin=./target/$dir/archipelago-server
  bots_bin=./target/$dir/archipelago-bots
  if [ "$(nproc)" -ge 2 ]; then on_server="taskset -c 0"; on_bots="taskset -c 1"; else on_server=; on_bots=; fi
}

# Writes a yes/no proposal open for MINUTES into the database in $data and prints its id.
bench_open_proposal() {
  local title=$1 minutes=$2 id
  id=$("$server_bin" --data-dir "$data" admin proposal create --json \
    --title "$title" --type yes-no --minutes "$minutes" --quorum 1 |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
  "$server_bin" --data-dir "$data" admin proposal open "$id" >/dev/null
  echo "$id"
}

# Waits for the server on $data to write its certificate digest, and prints it.
bench_digest() {
  for _ in $(seq 1 100); do [ -s "$data/cert-digest.txt" ] && break; sleep 0.1; done
  cat "$data/cert-digest.txt"
}

# Starts the server from $server_bin on 127.0.0.1:$port with the data in $data, its log in
# $out/server.log and any further arguments; sets `server` (its pid) and `digest`, and kills
# it and removes $data when the script exits.
bench_start_server() {
  $on_server "$server_bin" --bind 127.0.0.1:$port --data-dir "$data" "$@" \
    >"$out/server.log" 2>&1 &
  server=$!
  trap 'kill $server 2>/dev/null || true; kill $(jobs -p) 2>/dev/null || true; rm -rf "$data"' EXIT
  digest=$(bench_digest)
}

# Samples the server's CPU time and resident memory once a second into FILE, in the
# background, until it exits: "unix-time utime stime rss-kB" per line (utime and stime in
# clock ticks, `ticks` a second). Sets `sampler` (its pid) and `ticks`.
bench_sample_server() {
  local file=$1
  ticks=$(getconf CLK_TCK)
  (
    while kill -0 "$server" 2>/dev/null; do
      local stat rss
      stat=$(cut -d' ' -f14,15 "/proc/$server/stat" 2>/dev/null) || break
      rss=$(awk '/VmRSS/ {print $2}' "/proc/$server/status" 2>/dev/null) || break
      echo "$(date +%s.%N) ${stat% *} ${stat#* } $rss"
      sleep 1
    done
  ) >"$file" &
  sampler=$!
}
