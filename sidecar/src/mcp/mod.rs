//! The MCP server meshgate presents to clients: streamable HTTP at `/mcp` and its
//! namespaced forms, aggregating the upstreams the filter allowed.

pub mod audit_notes;
pub mod completion;
pub mod context;
pub mod dispatch;
pub mod endpoint;
pub mod fanout;
pub mod legacy_sse;
pub mod log_levels;
pub mod logging;
pub mod prompts;
pub mod resources;
pub mod revocation_poll;
pub mod stateless;
pub mod tools;

pub use crate::versions::{supported_version, DEFAULT_VERSION, SUPPORTED_VERSIONS};
