//! Custom-hook modules for the tests, written in WAT and compiled with the `wat` crate:
//! hooks that answer fixed JSON, one that echoes what it was given (so a test reads the
//! hook's input from the upstream's record or the client's result), and one per way a
//! hook can fail. The example hooks (Rust, AssemblyScript) are built by
//! `scripts/build-hooks.sh`; [`example_hook`] finds them.

use std::path::{Path, PathBuf};

/// Where the guest's input is written (page 1); answers live in page 0.
const INPUT_AT: u32 = 65536;

fn escape(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'"' | b'\\' => format!("\\{}", b as char),
            0x20..=0x7e => (b as char).to_string(),
            _ => format!("\\{b:02x}"),
        })
        .collect()
}

/// Returns `(offset << 32) | len` of a data segment as the event's answer.
fn answer_func(export: &str, at: u32, answer: &str) -> String {
    format!(
        "(func (export \"{export}\") (param i32 i32) (result i64) (i64.or (i64.shl (i64.const {at}) (i64.const 32)) (i64.const {})))\n(data (i32.const {at}) \"{}\")\n",
        answer.len(),
        escape(answer)
    )
}

fn module(body: &str) -> String {
    format!(
        "(module\n(memory (export \"memory\") 4)\n(func (export \"meshgate_hook_abi_version\") (result i32) (i32.const 1))\n(func (export \"alloc\") (param i32) (result i32) (i32.const {INPUT_AT}))\n{body})"
    )
}

/// A hook answering `pre` to pre_call and `post` to post_call (each export only when
/// given); an empty string answers "no change" (length 0).
pub fn fixed_hook(pre: Option<&str>, post: Option<&str>) -> String {
    let mut body = String::new();
    if let Some(a) = pre {
        body.push_str(&answer_func("pre_call", 16, a));
    }
    if let Some(a) = post {
        body.push_str(&answer_func("post_call", 32768, a));
    }
    module(&body)
}

/// pre_call answers `{"arguments": <its input>}` and post_call `{"result": <its input>}`:
/// what the hook was given reaches the upstream (as arguments) or the client (as the
/// result).
pub fn echo_hook() -> String {
    // Each event copies its prefix from a stash right before the input, then closes the
    // object after it.
    let echo = |export: &str, prefix: &str, stash: u32| {
        let start = INPUT_AT - prefix.len() as u32;
        format!(
            "(data (i32.const {stash}) \"{}\")\n(func (export \"{export}\") (param $p i32) (param $n i32) (result i64)\n  (memory.copy (i32.const {start}) (i32.const {stash}) (i32.const {len}))\n  (i32.store8 (i32.add (local.get $p) (local.get $n)) (i32.const 125))\n  (i64.or (i64.shl (i64.const {start}) (i64.const 32)) (i64.extend_i32_u (i32.add (local.get $n) (i32.const {}))))\n)\n",
            escape(prefix),
            prefix.len() + 1,
            len = prefix.len()
        )
    };
    let pre = echo("pre_call", "{\"arguments\":", 1024);
    let post = echo("post_call", "{\"result\":", 2048);
    module(&format!("{pre}{post}"))
}

/// Addresses a [`remembering_hook`] marks: one low in memory, one in its last page.
const MARKS: [u32; 2] = [40_000, 4 * 65536 - 8];

/// pre_call denies when it finds its own marks from an earlier call in memory, else
/// leaves them and answers "no change": every call allowed proves that no instance's
/// memory reached the next call (the sidecar resets a pooled slot's memory).
pub fn remembering_hook() -> String {
    let denial = r#"{"allow":false,"message":"memory of an earlier call survived"}"#;
    let checks: String = MARKS
        .iter()
        .map(|at| {
            format!(
                "(if (i32.eq (i32.load8_u (i32.const {at})) (i32.const 7)) (then (return (i64.or (i64.shl (i64.const 16) (i64.const 32)) (i64.const {})))))\n",
                denial.len()
            )
        })
        .collect();
    let marks: String = MARKS
        .iter()
        .map(|at| format!("(i32.store8 (i32.const {at}) (i32.const 7))\n"))
        .collect();
    module(&format!(
        "(func (export \"pre_call\") (param i32 i32) (result i64)\n{checks}{marks}(i64.const 0))\n(data (i32.const 16) \"{}\")\n",
        escape(denial)
    ))
}

/// Ways a hook can fail, each a module that does exactly that on both events.
#[derive(Debug, Clone, Copy)]
pub enum Failing {
    /// Loops forever (stopped by fuel).
    Loop,
    /// Executes `unreachable`.
    Trap,
    /// Grows its memory until refused.
    Alloc,
    /// Answers bytes that are not JSON.
    NotJson,
    /// Answers JSON of the wrong shape.
    WrongShape,
    /// Answers a pointer outside its memory.
    OutOfBounds,
    /// `alloc` answers a pointer outside its memory.
    BadAlloc,
}

pub fn failing_hook(how: Failing) -> String {
    let call = |body: &str| {
        format!(
            "(func (export \"pre_call\") (param i32 i32) (result i64) {body})\n(func (export \"post_call\") (param i32 i32) (result i64) {body})\n"
        )
    };
    match how {
        Failing::Loop => module(&call("(loop $l (br $l)) (i64.const 0)")),
        Failing::Trap => module(&call("unreachable")),
        Failing::Alloc => module(&call(
            "(loop $l (drop (memory.grow (i32.const 16))) (br $l)) (i64.const 0)",
        )),
        Failing::NotJson => fixed_hook(Some("this is not json"), Some("this is not json")),
        Failing::WrongShape => fixed_hook(Some("{\"allow\":\"yes\"}"), Some("[1,2,3]")),
        Failing::OutOfBounds => module(&call("(i64.const 0x7fff000000000064)")),
        Failing::BadAlloc => format!(
            "(module\n(memory (export \"memory\") 1)\n(func (export \"meshgate_hook_abi_version\") (result i32) (i32.const 1))\n(func (export \"alloc\") (param i32) (result i32) (i32.const -16))\n{})",
            call("(i64.const 0)")
        ),
    }
}

/// Compiles WAT and writes the module to `dir/name.wasm`.
pub fn write_hook(dir: &Path, name: &str, wat_text: &str) -> PathBuf {
    let bytes = wat::parse_str(wat_text).unwrap_or_else(|e| panic!("hook {name}: {e}"));
    let path = dir.join(format!("{name}.wasm"));
    std::fs::write(&path, bytes).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    path
}

/// An example hook built by `scripts/build-hooks.sh` (`make build-hooks`), by file name.
pub fn example_hook(file: &str) -> PathBuf {
    let path = super::repo_root().join("target/hooks").join(file);
    super::require(&path, "run `make hooks` (scripts/build-hooks.sh)");
    path
}
