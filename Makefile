# Archipelago: `make run` to play locally, `make test` to check everything.
# Both install the Debian/Ubuntu packages they need when they are missing.

CARGO ?= cargo
# One feature set for every build (make run, bots, test and the bench scripts): the whole
# workspace with the client's renderer, so a fresh machine compiles the stack once. The
# server's own dependency tree stays free of rendering (`make check-headless`); built in this
# set, its binary links the crates the client compiled and starts no renderer.
RENDER := --features archipelago-client/render
BUILD := $(CARGO) build --workspace $(RENDER) --bins
DATA_DIR ?= data
BIND ?= 127.0.0.1:7447
NAME ?=

BUILD_PACKAGES := pkg-config libasound2-dev libudev-dev libx11-dev libxkbcommon-dev libwayland-dev libopus-dev
RUN_PACKAGES := $(BUILD_PACKAGES) libvulkan1 mesa-vulkan-drivers libxkbcommon-x11-0 libxcursor1 libxrandr2 libxi6
# procps: `kill`, with which the shutdown test sends SIGTERM.
# espeak-ng and sox: speech for the voice tests, and its conversion to 48 kHz.
TEST_PACKAGES := $(RUN_PACKAGES) xvfb xauth procps espeak-ng sox

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run test fuzz bench bench-bodies bench-ballots bench-assembly bench-voice bench-crowd bench-flood bench-soak server client bots deps-run deps-test fmt clippy check-headless clean-data

define install_missing
	@missing=$$(for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing system packages:" $$missing; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi
endef

deps-run:
	$(call install_missing,$(RUN_PACKAGES))

deps-test:
	$(call install_missing,$(TEST_PACKAGES))

## server, client: both binaries (and the bots), in the one feature set.
server client:
	$(BUILD)

## run: a local server with its SQLite data in ./data, and one client window connected to it.
run: deps-run server client
	@mkdir -p $(DATA_DIR)
	@rm -f $(DATA_DIR)/cert-digest.txt
	@./target/debug/archipelago-server --bind $(BIND) --data-dir $(DATA_DIR) & \
	server=$$!; trap 'kill $$server 2>/dev/null; wait $$server 2>/dev/null' EXIT INT TERM; \
	for i in $$(seq 1 100); do [ -s $(DATA_DIR)/cert-digest.txt ] && break; sleep 0.1; done; \
	./target/debug/archipelago --server $(BIND) --data-dir $(DATA_DIR) $(if $(NAME),--name "$(NAME)")

## bots: 20 bots against the local server started by `make run`.
bots:
	$(BUILD)
	./target/debug/archipelago-bots --server $(BIND) \
		--cert-digest "$$(cat $(DATA_DIR)/cert-digest.txt)" --count 20 --seconds 60

fmt:
	$(CARGO) fmt --all -- --check

clippy:
	$(CARGO) clippy --workspace --all-targets $(RENDER) -- -D warnings
	$(CARGO) clippy -p archipelago-tests --test scenarios $(RENDER) -- -D warnings

## The server's dependency tree must not contain rendering or UI crates.
check-headless:
	@if $(CARGO) tree -p archipelago-server -e normal --prefix none | grep -E '^(bevy_render|bevy_pbr|bevy_winit|wgpu|bevy_egui|egui) ' ; then \
		echo "error: the server pulls in rendering crates (above)"; exit 1; \
	else echo "server is headless: no rendering crates in its tree"; fi

## test: formatting, lints, the headless check, then every test. Tests build the whole
## workspace in one feature set (with the renderer) so dependencies compile once. Unit,
## rule and in-process scenario tests run in parallel; the QUIC scenarios (tests/tests/
## scenarios) then run one at a time, the screenshot test with the client binary built here.
test: deps-test fmt check-headless clippy
	$(BUILD)
	$(CARGO) test --workspace $(RENDER)
	ARCHIPELAGO_CLIENT_BIN=$(CURDIR)/target/debug/archipelago $(CARGO) test $(RENDER) -p archipelago-tests --test scenarios -- --test-threads=1

## fuzz: each fuzz target for 60 s (cargo-fuzz, installed if missing; see fuzz/). Not part of
## `make test`: it builds instrumented code of its own. Stable rustc runs it with
## RUSTC_BOOTSTRAP, without a sanitizer (the code fuzzed has no unsafe).
FUZZ_SECONDS ?= 60
fuzz:
	@command -v cargo-fuzz >/dev/null || $(CARGO) install cargo-fuzz --locked
	cd fuzz && for target in $$(RUSTC_BOOTSTRAP=1 $(CARGO) fuzz list); do \
		RUSTC_BOOTSTRAP=1 $(CARGO) fuzz run --sanitizer none $$target -- -max_total_time=$(FUZZ_SECONDS) || exit 1; \
	done

clean-data:
	rm -rf $(DATA_DIR)

## bench: release server plus 100 bots for 60 s (see BENCHMARKS.md).
bench:
	bash tests/bench/server-and-bots.sh

## bench-ballots: 1,000 bots vote at once, then again every second for 10 s (BENCHMARKS.md).
bench-ballots:
	bash tests/bench/ballots.sh

## bench-flood: 50 members voting, alone and then while 50 visitors flood founder-only
## requests (BENCHMARKS.md).
bench-flood:
	bash tests/bench/flood.sh

## bench-soak: 30 minutes of voters, a session in a town hall and churning visitors, sampled
## every minute (BENCHMARKS.md).
bench-soak:
	bash tests/bench/soak.sh

## bench-assembly: 200 bots in session in one town hall, 20 outside, for 60 s (BENCHMARKS.md).
bench-assembly:
	bash tests/bench/assembly.sh

## bench-bodies: the client draws 300 walkers as bodies and as capsules, in one run (BENCHMARKS.md).
bench-bodies:
	bash tests/bench/bodies.sh

## bench-crowd: 100, 250, 500 and 1,000 bots on the capital's plaza, 120 s each; draws crowd.png.
bench-crowd:
	bash tests/bench/crowd.sh

## bench-voice: the hall of bench-assembly with voice (the chair, the floor, ten murmurs) and without.
bench-voice:
	bash tests/bench/voice.sh
