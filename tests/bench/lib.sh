# Shared by the bench scripts (source it from the repository root, after setting `data`).

# Builds the server and the bots in PROFILE (release unless told): in release only those two,
# without the renderer; in dev with `make test`'s feature set, so that its build is reused.
# Sets profile, server_bin and bots_bin, and on_server / on_bots, which pin the server to
# core 0 and the bots to core 1 where there are two.
bench_build() {
  profile=${PROFILE:-release}
  local dir=debug
  if [ "$profile" = release ]; then
    dir=release
    cargo build --release -p archipelago-server -p archipelago-client \
      --bin archipelago-server --bin archipelago-bots
  else
    cargo build --workspace --features archipelago-client/render --bins
  fi
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
