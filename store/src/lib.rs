//! meshgate's database: virtual keys, teams, organizations and database-defined MCP servers, on
//! SQLite (default, zero set-up) or PostgreSQL (several replicas).
//!
//! ```no_run
//! # async fn demo() -> Result<(), meshgate_store::StoreError> {
//! use meshgate_store::{NewKey, Store};
//! let store = Store::open("/var/lib/meshgate").await?; // → /var/lib/meshgate/meshgate.db
//! let (plaintext, record) = store.generate_key(NewKey::default()).await?;
//! assert_eq!(store.key_info(&plaintext).await?.token, record.token);
//! # Ok(()) }
//! ```
//!
//! - Plaintext keys are returned once by [`Store::generate_key`] and never stored: a key's id
//!   (`token`) is [`hash_key`] of it.
//! - Every write is one transaction that also bumps [`Store::revision`]; a failed write changes
//!   nothing.
//! - Deleting a team or organization that keys (or teams) still reference is a
//!   [`StoreError::Conflict`], never a silent cascade.

mod audit;
mod budget;
mod columns;
mod crypt;
mod db;
mod error;
mod keys;
mod migrate;
mod open;
mod orgs;
mod records;
mod responses;
mod secret;
mod servers;
mod sessions;
mod snapshot;
mod spend;
mod teams;
mod validate;

pub use audit::{AuditQuery, AuditRow, NewAuditRow, MAX_PAGE_SIZE as MAX_AUDIT_PAGE_SIZE};
pub use crypt::StoreKeys;
pub use error::StoreError;
pub use open::{redact, Backend, OpenOptions, Store, DEFAULT_DB_FILE};
pub use records::{
    Budget, BudgetInput, BudgetPatch, JsonObject, KeyPatch, KeyRecord, McpServerPatch,
    McpServerRecord, NewKey, NewMcpServer, NewOrganization, NewTeam, ObjectPermission,
    ObjectPermissionPatch, OrganizationPatch, OrganizationRecord, TeamMember, TeamPatch,
    TeamRecord, TeamRole,
};
pub use responses::StoredResponse;
pub use secret::{hash_key, parse_duration};
pub use sessions::SessionRevocation;
pub use snapshot::Snapshot;
pub use spend::{SpendFilter, SpendGroup, SpendOwner, SpendRow, MAX_BATCH as MAX_SPEND_BATCH};
