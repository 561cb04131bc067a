//! One consistent read of everything, for compiling the policy the filter enforces.

use serde::{Deserialize, Serialize};

use crate::db::Q;
use crate::error::StoreError;
use crate::open::Store;
use crate::records::{KeyRecord, McpServerRecord, OrganizationRecord, TeamRecord};
use crate::{keys, orgs, servers, teams};

/// Every record as of one `revision`, read in a single transaction (no write in between).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// The [`Store::revision`] this snapshot reflects.
    pub revision: i64,
    pub organizations: Vec<OrganizationRecord>,
    pub teams: Vec<TeamRecord>,
    pub keys: Vec<KeyRecord>,
    pub mcp_servers: Vec<McpServerRecord>,
}

impl Store {
    /// Reads everything at once. Typical use: poll [`Store::revision`]; when it differs from the
    /// last snapshot's, take a new snapshot and recompile.
    pub async fn snapshot(&self) -> Result<Snapshot, StoreError> {
        let mut tx = self.read().await?;
        let revision: i64 = tx
            .fetch_one(Q::new("SELECT revision FROM store_revision WHERE id = 1"))
            .await?
            .get("revision")?;
        let snapshot = Snapshot {
            revision,
            organizations: orgs::list(&mut tx).await?,
            teams: teams::list(&mut tx).await?,
            keys: keys::list(&mut tx).await?,
            mcp_servers: servers::list(&mut tx, self.keys()).await?,
        };
        tx.commit().await?;
        Ok(snapshot)
    }
}
