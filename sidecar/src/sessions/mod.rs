//! Client sessions as state the sidecar keeps below the MCP layer: the encrypted
//! session ids (`id.rs`), their idle time, lifetime and revocations (`life.rs`), and the
//! registry of open legacy SSE streams (`legacy_streams.rs`). `AppState` holds them; the
//! MCP handlers above use them.

pub mod id;
pub mod legacy_streams;
pub mod life;

/// `id.rs` counts the protocol revisions it encodes (as `super::SUPPORTED_VERSIONS`, so the
/// session-id fuzz target can compile it in place with a stand-in).
pub(crate) use crate::versions::SUPPORTED_VERSIONS;
