//! Virtual keys: `/key/generate`, `/key/update`, `/key/delete`, `/key/info`,
//! `/key/block`, `/key/unblock`, `/key/list`. The plaintext key appears in exactly one
//! response, the one of `/key/generate`; everything else shows the hash (`token`) and
//! LiteLLM's abbreviation (`key_name`).

use serde_json::{Map, Value};

use meshgate_policy::grants::key_id;
use meshgate_store::{hash_key, KeyPatch, KeyRecord, NewKey, SpendOwner};

use super::error::ApiError;
use super::request::{
    ok, parse, parse_without_nulls, required_str, required_strings, to_object, AdminRequest,
    AdminResult,
};
use crate::state::AppState;

/// `POST /key/generate`: body = `NewKey` (LiteLLM's fields); the record plus `key`.
pub async fn generate(state: &AppState, req: &AdminRequest) -> AdminResult {
    req.require_master()?;
    let new: NewKey = parse_without_nulls(req.object()?)?;
    configured_guardrails(state, new.guardrails.as_deref())?;
    let (plaintext, record) = state.store.generate_key(new).await?;
    state.refresh_from_store().await;
    let mut out = to_object(&record)?;
    out.insert("key".into(), Value::String(plaintext));
    ok(&out)
}

/// `POST /key/update`: `{"key": id | hash | plaintext, …patch}` → the record.
pub async fn update(state: &AppState, req: &AdminRequest) -> AdminResult {
    req.require_master()?;
    let mut body = req.object()?;
    let key = required_str(&body, "key")?.to_string();
    body.remove("key");
    let patch: KeyPatch = parse(Value::Object(body))?;
    configured_guardrails(state, patch.guardrails.as_ref().and_then(|g| g.as_deref()))?;
    let record = state.store.update_key(&key, patch).await?;
    state.refresh_from_store().await;
    ok(&record)
}

/// Refuses guardrail names the configuration does not have (400 naming them): a key or
/// team must never carry a guardrail that would not run.
pub(super) fn configured_guardrails(
    state: &AppState,
    names: Option<&[String]>,
) -> Result<(), ApiError> {
    let runtime = state.runtime();
    let specs = &runtime.config.guardrail_specs;
    let unknown: Vec<&str> = names
        .unwrap_or_default()
        .iter()
        .filter(|n| !specs.iter().any(|g| &g.name == *n))
        .map(String::as_str)
        .collect();
    if unknown.is_empty() {
        return Ok(());
    }
    Err(ApiError::invalid(
        "guardrails",
        format!(
            "unknown guardrail(s): {} (not in this gateway's `guardrails:` configuration)",
            unknown.join(", ")
        ),
    ))
}

/// `POST /key/block` and `/key/unblock`: `{"key": …}` → the record.
pub async fn set_blocked(state: &AppState, req: &AdminRequest, blocked: bool) -> AdminResult {
    req.require_master()?;
    let body = req.object()?;
    let key = required_str(&body, "key")?;
    let patch = KeyPatch {
        blocked: Some(blocked),
        ..Default::default()
    };
    let record = state.store.update_key(key, patch).await?;
    state.refresh_from_store().await;
    ok(&record)
}

/// `POST /key/delete`: `{"keys": [...]}` and/or `{"key_aliases": [...]}`, all or nothing
/// → `{"deleted_keys": [hashes]}`.
pub async fn delete(state: &AppState, req: &AdminRequest) -> AdminResult {
    req.require_master()?;
    let body = req.object()?;
    let mut ids: Vec<String> = Vec::new();
    if body.contains_key("keys") || !body.contains_key("key_aliases") {
        ids.extend(required_strings(&body, "keys")?);
    }
    if body.contains_key("key_aliases") {
        let aliases = required_strings(&body, "key_aliases")?;
        let all = state.store.list_keys().await?;
        for alias in aliases {
            let found = all
                .iter()
                .find(|k| k.key_alias.as_deref() == Some(alias.as_str()))
                .ok_or_else(|| {
                    ApiError::not_found(format!("key with alias `{alias}` not found"))
                })?;
            ids.push(found.token.clone());
        }
    }
    // Resolve first: an unknown key is a 404 before anything is deleted, and the answer
    // names keys by hash, never by a plaintext the caller may have sent.
    let mut tokens: Vec<String> = Vec::with_capacity(ids.len());
    for id in &ids {
        let token = state.store.key_info(id).await?.token;
        if !tokens.contains(&token) {
            tokens.push(token);
        }
    }
    state.store.delete_keys(&tokens).await?;
    state.refresh_from_store().await;
    ok(&serde_json::json!({ "deleted_keys": tokens }))
}

/// `GET /key/info?key=…` → `{"key": hash, "info": record}`. A virtual key may ask about
/// itself (no `key`, or its own); anything else needs the master key.
pub async fn info(state: &AppState, req: &AdminRequest) -> AdminResult {
    let record = match (req.query("key"), req.key_id()) {
        (Some(key), _) if req.is_master() => state.store.key_info(key).await?,
        (None, _) if req.is_master() => return Err(ApiError::missing("key")),
        (asked, Some(own_id)) => {
            if let Some(asked) = asked {
                let asked = asked.trim();
                let asked_hash = if asked.starts_with("sk-") {
                    hash_key(asked)
                } else {
                    asked.to_ascii_lowercase()
                };
                if key_id(&asked_hash) != own_id || asked_hash.len() != 64 {
                    return Err(ApiError::Forbidden(
                        "a virtual key may only read its own /key/info; other keys need the master key"
                            .into(),
                    ));
                }
            }
            own_record(state, own_id).await?
        }
        _ => return Err(ApiError::Forbidden("this principal has no key".into())),
    };
    let spend = super::spend::total(state, SpendOwner::Key, &record.token, &record.budget).await?;
    let mut info = to_object(&record)?;
    info.insert("spend".into(), spend.into());
    ok(&serde_json::json!({"key": record.token, "info": info}))
}

/// The record of the key whose principal id (hash prefix) is `id`.
async fn own_record(state: &AppState, id: &str) -> Result<KeyRecord, ApiError> {
    let runtime = state.runtime();
    if let Some(k) = runtime.snapshot.keys.iter().find(|k| k.id == id) {
        return Ok(state.store.key_info(&k.hash).await?);
    }
    state
        .store
        .list_keys()
        .await?
        .into_iter()
        .find(|k| key_id(&k.token) == id)
        .ok_or_else(|| ApiError::not_found("this key no longer exists"))
}

/// `GET /key/list[?team_id=&organization_id=&key_alias=&return_full_object=true&page=&size=]`
/// → `{"keys": [hash…] | [record…], "total_count", "current_page", "total_pages"}`.
pub async fn list(state: &AppState, req: &AdminRequest) -> AdminResult {
    req.require_master()?;
    let full = matches!(req.query("return_full_object"), Some("true" | "1"));
    let page: usize = number_param(req, "page")?.unwrap_or(1).max(1);
    let size: usize = number_param(req, "size")?.unwrap_or(0);
    let keys: Vec<KeyRecord> = state
        .store
        .list_keys()
        .await?
        .into_iter()
        .filter(|k| {
            req.query("team_id")
                .is_none_or(|t| k.team_id.as_deref() == Some(t))
                && req
                    .query("organization_id")
                    .is_none_or(|o| k.organization_id.as_deref() == Some(o))
                && req
                    .query("key_alias")
                    .is_none_or(|a| k.key_alias.as_deref() == Some(a))
        })
        .collect();
    let total = keys.len();
    let (shown, pages): (Vec<KeyRecord>, usize) = if size == 0 {
        (keys, 1)
    } else {
        (
            keys.into_iter()
                .skip((page - 1) * size)
                .take(size)
                .collect(),
            total.div_ceil(size).max(1),
        )
    };
    let listed: Vec<Value> = if full {
        shown
            .iter()
            .map(|k| to_object(k).map(Value::Object))
            .collect::<Result<_, _>>()?
    } else {
        shown.into_iter().map(|k| Value::String(k.token)).collect()
    };
    let mut out = Map::new();
    out.insert("keys".into(), Value::Array(listed));
    out.insert("total_count".into(), total.into());
    out.insert("current_page".into(), page.into());
    out.insert("total_pages".into(), pages.into());
    ok(&out)
}

fn number_param(req: &AdminRequest, name: &str) -> Result<Option<usize>, ApiError> {
    req.query(name)
        .map(|v| {
            v.trim().parse::<usize>().map_err(|_| {
                ApiError::invalid(name, format!("invalid {name}: `{v}` is not a number"))
            })
        })
        .transpose()
}
