#!/usr/bin/env bash
# Runs every fuzz target (fuzz/fuzz_targets) for FUZZ_SECONDS each, one after another,
# with libFuzzer through cargo-fuzz on the stable toolchain (RUSTC_BOOTSTRAP=1 unlocks
# the -Z flags cargo-fuzz passes). New inputs go to fuzz/target/corpus/<target>; the
# committed seeds in fuzz/corpus/<target> are only read. A crash stops the run: its
# input is in fuzz/artifacts/<target>/.
#   FUZZ_SECONDS=60 (per target)   FUZZ_TARGETS="sse jsonrpc" (default: all)
#   FUZZ_RUNS=N (also stop after N executions)   FUZZ_LOG=dir (libFuzzer's output per target)
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
export RUSTC_BOOTSTRAP=1
SECONDS_EACH=${FUZZ_SECONDS:-60}
command -v cargo-fuzz >/dev/null || cargo install --locked cargo-fuzz
targets=${FUZZ_TARGETS:-$(cargo fuzz list)}
# No sanitizer: the code is safe Rust (ASan finds nothing there and halves the speed);
# panics, overflows (debug assertions on) and timeouts are what is looked for.
cargo fuzz build -s none --debug-assertions
log_dir=${FUZZ_LOG:-target/fuzz-logs}
mkdir -p "$log_dir"
for t in $targets; do
    mkdir -p "target/corpus/$t"
    echo "fuzz: $t for ${SECONDS_EACH}s"
    if ! cargo fuzz run -s none --debug-assertions "$t" "target/corpus/$t" "corpus/$t" -- \
        -max_total_time="$SECONDS_EACH" ${FUZZ_RUNS:+-runs=$FUZZ_RUNS} -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        >"$log_dir/$t.log" 2>&1; then
        tail -40 "$log_dir/$t.log"
        echo "fuzz: $t FAILED (input in fuzz/artifacts/$t/)" >&2
        exit 1
    fi
    grep -E '^stat::number_of_executed_units|^#[0-9]+ *DONE|^Done [0-9]+ runs' "$log_dir/$t.log" | tail -2 | sed "s/^/fuzz: $t: /"
done
echo "fuzz: all targets ran ${SECONDS_EACH}s without a crash"
