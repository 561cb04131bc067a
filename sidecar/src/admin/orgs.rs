//! Organizations: `/organization/new`, `/organization/update`, `/organization/delete`,
//! `/organization/info`, `/organization/list`. Master key only.

use serde_json::Value;

use meshgate_store::{NewOrganization, OrganizationPatch, OrganizationRecord};

use super::error::ApiError;
use super::request::{
    ok, parse, parse_without_nulls, required_str, required_strings, AdminRequest, AdminResult,
};
use crate::state::AppState;

/// `POST /organization/new`: body = `NewOrganization` (`organization_alias` required).
pub async fn create(state: &AppState, req: &AdminRequest) -> AdminResult {
    req.require_master()?;
    let new: NewOrganization = parse_without_nulls(req.object()?)?;
    let org = state.store.create_organization(new).await?;
    state.refresh_from_store().await;
    ok(&org)
}

/// `POST|PATCH /organization/update`: `{"organization_id", …patch}`.
pub async fn update(state: &AppState, req: &AdminRequest) -> AdminResult {
    req.require_master()?;
    let mut body = req.object()?;
    let id = required_str(&body, "organization_id")?.to_string();
    body.remove("organization_id");
    let patch: OrganizationPatch = parse(Value::Object(body))?;
    let org = state.store.update_organization(&id, patch).await?;
    state.refresh_from_store().await;
    ok(&org)
}

/// `POST|DELETE /organization/delete`: `{"organization_ids": [...]}` → `[organization…]`.
/// Every organization is checked (exists, no teams or keys) before the first is deleted.
pub async fn delete(state: &AppState, req: &AdminRequest) -> AdminResult {
    req.require_master()?;
    let body = req.object()?;
    let mut ids = required_strings(&body, "organization_ids")?;
    let mut seen = std::collections::HashSet::new();
    ids.retain(|id| seen.insert(id.clone()));
    let snapshot = state.store.snapshot().await?;
    for id in &ids {
        if !snapshot
            .organizations
            .iter()
            .any(|o| &o.organization_id == id)
        {
            return Err(ApiError::not_found(format!(
                "organization `{id}` not found"
            )));
        }
        let teams = snapshot
            .teams
            .iter()
            .filter(|t| t.organization_id.as_ref() == Some(id))
            .count();
        let keys = snapshot
            .keys
            .iter()
            .filter(|k| k.organization_id.as_ref() == Some(id))
            .count();
        if teams > 0 || keys > 0 {
            return Err(ApiError::Conflict(format!(
                "organization `{id}` still has {teams} team(s) and {keys} key(s); delete them or move them first"
            )));
        }
    }
    let mut deleted: Vec<OrganizationRecord> = Vec::with_capacity(ids.len());
    for id in &ids {
        match state.store.delete_organization(id).await {
            Ok(o) => deleted.push(o),
            Err(e) => {
                if !deleted.is_empty() {
                    state.refresh_from_store().await;
                }
                return Err(e.into());
            }
        }
    }
    state.refresh_from_store().await;
    ok(&deleted)
}

/// `GET /organization/info?organization_id=` → the organization.
pub async fn info(state: &AppState, req: &AdminRequest) -> AdminResult {
    req.require_master()?;
    let id = req
        .query("organization_id")
        .ok_or_else(|| ApiError::missing("organization_id"))?;
    let org = state.store.get_organization(id).await?;
    let spend = super::spend::total(
        state,
        meshgate_store::SpendOwner::Organization,
        &org.organization_id,
        &org.budget,
    )
    .await?;
    let mut info = super::request::to_object(&org)?;
    info.insert("spend".into(), spend.into());
    ok(&info)
}

/// `GET /organization/list` → `[organization…]`.
pub async fn list(state: &AppState, req: &AdminRequest) -> AdminResult {
    req.require_master()?;
    ok(&state.store.list_organizations().await?)
}
