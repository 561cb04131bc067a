#!/usr/bin/env bash
# Builds the example custom hooks (docs/hooks.md) into target/hooks/:
#   cost_redact.wasm  Rust (examples/hooks/cost-redact), for wasm32-wasip1
#   sql_guard.wasm    AssemblyScript (examples/hooks/sql-guard-as), with the compiler
#                     from npm (pinned in its package-lock.json; `make test-deps`)
# `--rust-only` skips the AssemblyScript one (for `make build`, which needs no npm).
set -euo pipefail
cd "$(dirname "$0")/.."
out=target/hooks
mkdir -p "$out"
cargo build -q -p meshgate-hook-cost-redact --target wasm32-wasip1 --profile release-wasm
cp target/wasm32-wasip1/release-wasm/meshgate_hook_cost_redact.wasm "$out/cost_redact.wasm"
[ "${1:-}" = "--rust-only" ] && exit 0
asc=examples/hooks/sql-guard-as/node_modules/.bin/asc
[ -x "$asc" ] || { echo "the AssemblyScript compiler is missing: run \`make test-deps\`" >&2; exit 1; }
"$asc" examples/hooks/sql-guard-as/assembly/index.ts --outFile "$out/sql_guard.wasm" \
  --optimize --runtime stub --noAssert
