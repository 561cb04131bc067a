#!/usr/bin/env bash
# Runs the test suite and ends with one total line ("tests: N passed, N failed"), since
# cargo's own last line is often an empty doc-test run.
set -uo pipefail
cd "$(dirname "$0")/.."
log=$(mktemp)
trap 'rm -f "$log"' EXIT
cargo test --no-fail-fast "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
# The pure core's detector and message-scan tests again as the filter runs them: wasm32 with SIMD, in V8
# (Node's WASI); the SIMD code path exists only there.
CARGO_TARGET_WASM32_WASIP1_RUNNER="node --no-warnings $PWD/scripts/wasi-run.mjs" \
  cargo test --target wasm32-wasip1 -p meshgate-policy --lib -- --test-threads=1 guardrails::detect:: guardrails::message:: 2>&1 | tee -a "$log"
[ "${PIPESTATUS[0]}" = 0 ] || status=1
echo
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($i ~ /^passed/) p += $(i-1); if ($i ~ /^failed/) f += $(i-1) } }
     END { printf "tests: %d passed, %d failed\n", p, f }' "$log"
exit "$status"
