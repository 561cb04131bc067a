# meshgate — two commands for a newcomer: `make run` and `make test`.
CARGO ?= cargo
WASM_TARGET := wasm32-wasip1
WASM := target/$(WASM_TARGET)/release-wasm/meshgate_filter.wasm

.PHONY: run test bench conformance wasm wasm-panic build release tools test-deps lint fmt unit e2e clean fuzz faults soak hooks


run: tools wasm release
	scripts/run.sh


test: tools test-deps wasm wasm-panic build hooks lint
	scripts/test.sh


bench: tools wasm release
	MESHGATE_PROFILE=release $(CARGO) run --release -q -p meshgate-e2e --bin meshgate-bench
	MESHGATE_PROFILE=release $(CARGO) run --release -q -p meshgate-e2e --bin meshgate-bench-keys
	$(CARGO) run --release -q -p meshgate-e2e --bin meshgate-bench-guardrails
	MESHGATE_PROFILE=release $(CARGO) run --release -q -p meshgate-e2e --bin meshgate-bench-guarded
	MESHGATE_PROFILE=release $(CARGO) run --release -q -p meshgate-e2e --bin meshgate-bench-audit
	MESHGATE_PROFILE=release $(CARGO) run --release -q -p meshgate-e2e --bin meshgate-bench-spend
	scripts/build-hooks.sh --rust-only
	MESHGATE_PROFILE=release $(CARGO) run --release -q -p meshgate-e2e --bin meshgate-bench-hooks
	MESHGATE_PROFILE=release $(CARGO) run --release -q -p meshgate-e2e --bin meshgate-bench-llm-loop

# The official MCP conformance suite against the gateway (and directly against the
# upstreams, for comparison); scores land in target/conformance/summary.md.
conformance: tools
	scripts/conformance.sh

# Every fuzz target (fuzz/) for FUZZ_SECONDS each (default 60), libFuzzer via cargo-fuzz.
fuzz:
	FUZZ_SECONDS=$${FUZZ_SECONDS:-60} scripts/fuzz.sh

# Faults through real Envoy + filter + sidecar: upstreams killed, hanging, answering
# garbage; the sidecar killed under load; the database cut and back (tests/faults.rs).
faults: tools test-deps wasm build
	$(CARGO) test -p meshgate-e2e --test faults -- --test-threads=2

# Soak (not part of `make test`): SOAK_CALLS tools/call (default 1 M) with the sidecar's
# RSS sampled, 2,000 SSE streams held open, batches; numbers for docs/benchmarks.md.
soak: tools wasm release
	MESHGATE_PROFILE=release $(CARGO) run --release -q -p meshgate-e2e --bin meshgate-soak

wasm:
	@rustup target list --installed 2>/dev/null | grep -qx $(WASM_TARGET) || rustup target add $(WASM_TARGET)
	$(CARGO) build -p meshgate-filter --target $(WASM_TARGET) --profile release-wasm

# A test-only filter build that panics on a request to /_meshgate_test/panic, in its own
# target dir so it never replaces the real one; tests/filter_safety.rs loads it to prove
# Envoy's failure_policy reloads a trapped VM.
wasm-panic:
	@rustup target list --installed 2>/dev/null | grep -qx $(WASM_TARGET) || rustup target add $(WASM_TARGET)
	$(CARGO) build -p meshgate-filter --target $(WASM_TARGET) --profile release-wasm --features deliberate-panic --target-dir target/wasm-panic

build:
	$(CARGO) build -p meshgate-sidecar -p meshgate-demo -p meshgate-demo-rest
	$(CARGO) build -p meshgate-bridge --example openai_tools
	scripts/build-hooks.sh --rust-only

# The example custom hooks (Rust and AssemblyScript) into target/hooks/ (docs/hooks.md).
hooks:
	scripts/build-hooks.sh

release:
	$(CARGO) build --release -p meshgate-sidecar -p meshgate-demo -p meshgate-demo-rest

tools:
	scripts/install-envoy.sh

test-deps:
	scripts/setup-test-deps.sh

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --all-targets -- -D warnings
	$(CARGO) clippy -p meshgate-filter --target $(WASM_TARGET) -- -D warnings

fmt:
	$(CARGO) fmt --all

clean:
	$(CARGO) clean
	rm -rf .tools .meshgate
