//! meshgate's proxy-wasm filter: a thin shell that maps Envoy callbacks onto
//! `meshgate-policy`. Every decision lives there; this crate only moves bytes.
//!
//! The proxy-wasm SDK's trait helpers unwrap host errors, so the shell calls
//! `hostcalls` directly wherever a call can fail.

mod host;
mod ratelimit;
mod root;
mod seal;
mod stream;

use proxy_wasm::types::LogLevel;

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Info);
    proxy_wasm::set_root_context(|_| Box::new(root::FilterRoot::default()));
}}
