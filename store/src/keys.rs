//! Virtual keys: generate (plaintext shown once), update, delete, info, list.

use std::collections::BTreeSet;

use crate::budget::{Budget, BUDGET_COLUMNS};
use crate::columns::{
    bind_permission, names_from_row, names_value, object_from_row, object_value, patch,
    patch_object, patch_permission, permission_from_row, PERMISSION_COLUMNS,
};
use crate::db::{Row, Tx, Q};
use crate::error::StoreError;
use crate::open::Store;
use crate::records::{KeyPatch, KeyRecord, NewKey};
use crate::secret::{abbreviate, expiry_after, hash_key, key_id_from, new_plaintext_key};
use crate::{orgs, teams, validate};

const KIND: &str = "key";

fn select_sql(filter: &str) -> String {
    format!(
        "SELECT token, key_name, key_alias, metadata, team_id, user_id, organization_id, expires, \
         blocked, rpm_limit, {PERMISSION_COLUMNS}, guardrails, models, {BUDGET_COLUMNS}, created_at, updated_at FROM api_keys {filter}"
    )
}

fn from_row(row: &Row) -> Result<KeyRecord, StoreError> {
    Ok(KeyRecord {
        token: row.get("token")?,
        key_name: row.get("key_name")?,
        key_alias: row.get("key_alias")?,
        metadata: object_from_row(row, "metadata")?,
        team_id: row.get("team_id")?,
        user_id: row.get("user_id")?,
        organization_id: row.get("organization_id")?,
        expires: row.get("expires")?,
        blocked: row.get("blocked")?,
        rpm_limit: row.get("rpm_limit")?,
        object_permission: permission_from_row(row)?,
        guardrails: names_from_row(row, "guardrails")?,
        models: names_from_row(row, "models")?,
        budget: Budget::from_row(row)?,
        created_at: row.get("created_at")?,
        updated_at: row.get("updated_at")?,
    })
}

fn validate_record(k: &KeyRecord) -> Result<(), StoreError> {
    validate::opt_text("key_alias", k.key_alias.as_deref())?;
    validate::json_object("metadata", &k.metadata)?;
    validate::opt_text("team_id", k.team_id.as_deref())?;
    validate::opt_text("user_id", k.user_id.as_deref())?;
    validate::opt_text("organization_id", k.organization_id.as_deref())?;
    validate::rpm_limit(k.rpm_limit)?;
    validate::names("guardrails", &k.guardrails)?;
    validate::names("models", &k.models)?;
    validate::permission(&k.object_permission)
}

/// Checks, inside the write transaction, everything the key refers to or must not collide with.
async fn check_links(tx: &mut Tx, k: &KeyRecord) -> Result<(), StoreError> {
    if let Some(alias) = &k.key_alias {
        let taken = tx
            .exists(
                Q::new("SELECT 1 FROM api_keys WHERE key_alias = $1 AND token <> $2")
                    .text(alias)
                    .text(&k.token),
            )
            .await?;
        if taken {
            return Err(StoreError::conflict(format!(
                "key_alias `{alias}` is already used by another key"
            )));
        }
    }
    if let Some(org) = &k.organization_id {
        if !orgs::exists(tx, org).await? {
            return Err(StoreError::invalid(
                "organization_id",
                format!("organization `{org}` does not exist"),
            ));
        }
    }
    if let Some(team) = &k.team_id {
        let team_org = teams::organization_of(tx, team).await?.ok_or_else(|| {
            StoreError::invalid("team_id", format!("team `{team}` does not exist"))
        })?;
        if let (Some(team_org), Some(key_org)) = (team_org, &k.organization_id) {
            if &team_org != key_org {
                return Err(StoreError::invalid(
                    "organization_id",
                    format!("team `{team}` belongs to organization `{team_org}`, not `{key_org}`"),
                ));
            }
        }
    }
    Ok(())
}

async fn load(tx: &mut Tx, token: &str) -> Result<Option<KeyRecord>, StoreError> {
    tx.fetch_optional(Q::new(select_sql("WHERE token = $1")).text(token))
        .await?
        .as_ref()
        .map(from_row)
        .transpose()
}

pub(crate) async fn list(tx: &mut Tx) -> Result<Vec<KeyRecord>, StoreError> {
    tx.fetch_all(Q::new(select_sql("ORDER BY created_at, token")))
        .await?
        .iter()
        .map(from_row)
        .collect()
}

/// The stored id for a key id, hash or plaintext, or NotFound.
fn resolve(input: &str) -> Result<String, StoreError> {
    // The message shows a plaintext key only in its abbreviated form.
    key_id_from(input).ok_or_else(|| StoreError::not_found(KIND, shown(input)))
}

/// How a key reference appears in messages: plaintext keys are abbreviated.
fn shown(input: &str) -> String {
    if input.trim().starts_with("sk-") {
        abbreviate(input.trim())
    } else {
        input.to_string()
    }
}

impl Store {
    /// Creates a key. Returns the plaintext (`sk-…`, shown this once, never stored) and the record
    /// (whose `token`, the SHA-256 of the plaintext, is the key's id).
    pub async fn generate_key(&self, req: NewKey) -> Result<(String, KeyRecord), StoreError> {
        let now = validate::now();
        let plaintext = match req.key {
            Some(k) => {
                validate::plaintext_key(&k)?;
                k
            }
            None => new_plaintext_key()?,
        };
        let expires = match (req.expires, req.duration.as_deref()) {
            (Some(_), Some(_)) => {
                return Err(StoreError::invalid(
                    "duration",
                    "give either `expires` or `duration`, not both",
                ))
            }
            (Some(e), None) => Some(validate::timestamp(e)),
            (None, Some(d)) => Some(validate::timestamp(expiry_after(now, d)?)),
            (None, None) => None,
        };
        let record = KeyRecord {
            token: hash_key(&plaintext),
            key_name: abbreviate(&plaintext),
            key_alias: req.key_alias,
            metadata: req.metadata.unwrap_or_default(),
            team_id: req.team_id,
            user_id: req.user_id,
            organization_id: req.organization_id,
            expires,
            blocked: req.blocked.unwrap_or(false),
            rpm_limit: req.rpm_limit,
            object_permission: req.object_permission,
            guardrails: req.guardrails.unwrap_or_default(),
            models: req.models.unwrap_or_default(),
            budget: Budget::create(req.budget, now)?,
            created_at: now,
            updated_at: now,
        };
        validate_record(&record)?;

        let mut tx = self.write().await?;
        if load(&mut tx, &record.token).await?.is_some() {
            return Err(StoreError::conflict("this key already exists"));
        }
        check_links(&mut tx, &record).await?;
        let q = Q::new(format!(
            "INSERT INTO api_keys (token, key_name, key_alias, metadata, team_id, user_id, \
             organization_id, expires, blocked, rpm_limit, {PERMISSION_COLUMNS}, guardrails, \
             models, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)"
        ))
        .text(&record.token)
        .text(&record.key_name)
        .opt_text(record.key_alias.as_deref())
        .json(object_value(&record.metadata))
        .opt_text(record.team_id.as_deref())
        .opt_text(record.user_id.as_deref())
        .opt_text(record.organization_id.as_deref())
        .time(record.expires)
        .bool(record.blocked);
        let q = bind_permission(q.int(record.rpm_limit), &record.object_permission)
            .json(names_value(&record.guardrails))
            .json(names_value(&record.models))
            .time(Some(record.created_at))
            .time(Some(record.updated_at));
        tx.execute(q).await?;
        record
            .budget
            .store(&mut tx, "api_keys", "token", &record.token)
            .await?;
        tx.commit().await?;
        tracing::debug!(key = %record.key_name, "key generated");
        Ok((plaintext, record))
    }

    /// Changes a key (by id/hash or plaintext); fields absent from `patch` are unchanged.
    pub async fn update_key(
        &self,
        key_id_or_hash: &str,
        patch_req: KeyPatch,
    ) -> Result<KeyRecord, StoreError> {
        let token = resolve(key_id_or_hash)?;
        if patch_req.expires.is_some() && patch_req.duration.is_some() {
            return Err(StoreError::invalid(
                "duration",
                "give either `expires` or `duration`, not both",
            ));
        }
        let now = validate::now();
        let duration_expiry = match patch_req.duration.as_deref() {
            Some(d) => Some(validate::timestamp(expiry_after(now, d)?)),
            None => None,
        };

        let mut tx = self.write().await?;
        let mut k = load(&mut tx, &token)
            .await?
            .ok_or_else(|| StoreError::not_found(KIND, shown(key_id_or_hash)))?;
        patch(&mut k.key_alias, patch_req.key_alias);
        patch_object(&mut k.metadata, patch_req.metadata);
        patch(&mut k.team_id, patch_req.team_id);
        patch(&mut k.user_id, patch_req.user_id);
        patch(&mut k.organization_id, patch_req.organization_id);
        patch(
            &mut k.expires,
            patch_req.expires.map(|e| e.map(validate::timestamp)),
        );
        if duration_expiry.is_some() {
            k.expires = duration_expiry;
        }
        if let Some(b) = patch_req.blocked {
            k.blocked = b;
        }
        patch(&mut k.rpm_limit, patch_req.rpm_limit);
        patch_permission(&mut k.object_permission, patch_req.object_permission);
        if let Some(names) = patch_req.guardrails {
            k.guardrails = names.unwrap_or_default();
        }
        if let Some(models) = patch_req.models {
            k.models = models.unwrap_or_default();
        }
        k.budget.apply(patch_req.budget, now)?;
        k.updated_at = now.max(k.created_at);
        validate_record(&k)?;
        check_links(&mut tx, &k).await?;

        let q = Q::new(
            "UPDATE api_keys SET key_alias = $1, metadata = $2, team_id = $3, user_id = $4, \
             organization_id = $5, expires = $6, blocked = $7, rpm_limit = $8, mcp_servers = $9, \
             mcp_access_groups = $10, mcp_tool_permissions = $11, guardrails = $12, \
             models = $13, updated_at = $14 WHERE token = $15",
        )
        .opt_text(k.key_alias.as_deref())
        .json(object_value(&k.metadata))
        .opt_text(k.team_id.as_deref())
        .opt_text(k.user_id.as_deref())
        .opt_text(k.organization_id.as_deref())
        .time(k.expires)
        .bool(k.blocked)
        .int(k.rpm_limit);
        let q = bind_permission(q, &k.object_permission)
            .json(names_value(&k.guardrails))
            .json(names_value(&k.models))
            .time(Some(k.updated_at))
            .text(&k.token);
        tx.execute(q).await?;
        k.budget
            .store(&mut tx, "api_keys", "token", &k.token)
            .await?;
        tx.commit().await?;
        Ok(k)
    }

    /// Deletes keys (ids/hashes or plaintexts) all or nothing: if any is unknown, nothing is
    /// deleted and the error names it. Returns how many keys were deleted (duplicates count once).
    pub async fn delete_keys(&self, ids: &[String]) -> Result<u64, StoreError> {
        let mut tokens = BTreeSet::new();
        let mut ordered = Vec::new();
        for id in ids {
            let token = resolve(id)?;
            if tokens.insert(token.clone()) {
                ordered.push((token, shown(id)));
            }
        }
        if ordered.is_empty() {
            return Ok(0);
        }
        let mut tx = self.write().await?;
        let mut deleted = 0;
        for (token, shown) in ordered {
            let n = tx
                .execute(Q::new("DELETE FROM api_keys WHERE token = $1").text(token))
                .await?;
            if n == 0 {
                // Dropping `tx` rolls back the deletions already made.
                return Err(StoreError::not_found(KIND, shown));
            }
            deleted += n;
        }
        tx.commit().await?;
        Ok(deleted)
    }

    /// One key, by id (= hash) or plaintext (hashed first).
    pub async fn key_info(&self, id: &str) -> Result<KeyRecord, StoreError> {
        let token = resolve(id)?;
        let mut tx = self.read().await?;
        let found = load(&mut tx, &token).await?;
        tx.commit().await?;
        found.ok_or_else(|| StoreError::not_found(KIND, shown(id)))
    }

    /// Every key, oldest first.
    pub async fn list_keys(&self) -> Result<Vec<KeyRecord>, StoreError> {
        let mut tx = self.read().await?;
        let keys = list(&mut tx).await?;
        tx.commit().await?;
        Ok(keys)
    }

    /// The keys of one team, oldest first (empty when the team has none or does not exist).
    pub async fn list_team_keys(&self, team_id: &str) -> Result<Vec<KeyRecord>, StoreError> {
        let mut tx = self.read().await?;
        let rows = tx
            .fetch_all(
                Q::new(select_sql("WHERE team_id = $1 ORDER BY created_at, token")).text(team_id),
            )
            .await?;
        tx.commit().await?;
        rows.iter().map(from_row).collect()
    }
}
