// Runs a wasm32-wasip1 program (a `cargo test` binary) under Node's WASI, so the pure
// crate's tests also run as the filter runs them: wasm with SIMD, in V8.
// Used as cargo's runner: CARGO_TARGET_WASM32_WASIP1_RUNNER="node scripts/wasi-run.mjs".
import { WASI } from 'node:wasi';
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';

const [program, ...args] = process.argv.slice(2);
const wasi = new WASI({ version: 'preview1', args: [basename(program), ...args], env: {}, returnOnExit: true });
const module = await WebAssembly.compile(readFileSync(program));
const instance = await WebAssembly.instantiate(module, wasi.getImportObject());
process.exitCode = wasi.start(instance);
