//! Who a key principal is, for audit rows: `key:<id>` → the key's alias, team and
//! organization (the key's own, else its team's). Read from the store, again only when
//! the database revision has moved since the last read.

use std::collections::HashMap;

use meshgate_store::NewAuditRow;

use crate::state::AppState;

#[derive(Default)]
pub struct Directory {
    revision: Option<i64>,
    keys: HashMap<String, Who>,
}

#[derive(Clone, Default)]
struct Who {
    alias: Option<String>,
    team: Option<String>,
    organization: Option<String>,
}

/// Length of a key principal's id: a prefix of the key's SHA-256 (see `policy::compile`).
const KEY_ID_LEN: usize = 16;

impl Directory {
    /// Fills alias, team and organization of the rows whose principal is a key.
    pub async fn fill(&mut self, state: &AppState, rows: &mut [NewAuditRow]) {
        let any_key = rows.iter().any(|r| key_id(r).is_some());
        if !any_key {
            return;
        }
        let revision = state.runtime().store_revision;
        if self.revision != Some(revision) {
            match load(state).await {
                Ok(keys) => {
                    self.keys = keys;
                    self.revision = Some(revision);
                }
                Err(e) => tracing::warn!("audit: cannot read keys for the audit trail: {e}"),
            }
        }
        for row in rows {
            let Some(who) = key_id(row).and_then(|id| self.keys.get(id)).cloned() else {
                continue;
            };
            row.key_alias = who.alias;
            row.team_id = who.team;
            row.organization_id = who.organization;
        }
    }
}

fn key_id(row: &NewAuditRow) -> Option<&str> {
    row.principal.as_deref()?.strip_prefix("key:")
}

async fn load(state: &AppState) -> Result<HashMap<String, Who>, meshgate_store::StoreError> {
    let keys = state.store.list_keys().await?;
    let teams = state.store.list_teams().await?;
    let team_org: HashMap<&str, Option<&String>> = teams
        .iter()
        .map(|t| (t.team_id.as_str(), t.organization_id.as_ref()))
        .collect();
    Ok(keys
        .iter()
        .filter_map(|k| {
            let id = k.token.get(..KEY_ID_LEN)?.to_string();
            let organization = k.organization_id.clone().or_else(|| {
                k.team_id
                    .as_deref()
                    .and_then(|t| team_org.get(t).copied().flatten().cloned())
            });
            Some((
                id,
                Who {
                    alias: k.key_alias.clone(),
                    team: k.team_id.clone(),
                    organization,
                },
            ))
        })
        .collect())
}
