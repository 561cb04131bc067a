//! meshgate's proxy-wasm filter: a thin shell that maps Envoy callbacks onto
//! `meshgate-policy`. Every decision lives there; this crate only moves bytes.
//!
//! The proxy-wasm SDK's trait helpers and even its `hostcalls` panic on host statuses
//! they do not expect (and decode header values with `unwrap`), and a panic traps the
//! VM: the filter would fail every later request. So the shell calls the ABI through
//! `abi` (every status an `Err`) and logs through its own logger. The contexts reach the
//! host only through the `host::Host` trait, so their state machines are unit-tested on
//! the build machine with a mock host (`mock.rs`, `tests/`).

mod abi;
mod guard;
mod host;
mod logger;
#[cfg(test)]
mod mock;
mod ratelimit;
mod root;
mod seal;
mod stream;
#[cfg(test)]
mod tests;

proxy_wasm::main! {{
    logger::install(log::LevelFilter::Info);
    proxy_wasm::set_root_context(|_| Box::new(root::FilterRoot::new(host::AbiHost)));
}}
