//! Teams: `/team/new`, `/team/update`, `/team/delete`, `/team/info`, `/team/list`,
//! `/team/member_add`, `/team/member_update`, `/team/member_delete`, `/team/block`,
//! `/team/unblock`. Master key only.

use serde_json::Value;

use meshgate_store::{NewTeam, TeamMember, TeamPatch, TeamRecord};

use super::error::ApiError;
use super::request::{
    ok, parse, parse_without_nulls, required_str, required_strings, AdminRequest, AdminResult,
};
use crate::state::AppState;

/// `POST /team/new`: body = `NewTeam` → the team.
pub async fn create(state: &AppState, req: &AdminRequest) -> AdminResult {
    req.require_master()?;
    let new: NewTeam = parse_without_nulls(req.object()?)?;
    super::keys::configured_guardrails(state, new.guardrails.as_deref())?;
    let team = state.store.create_team(new).await?;
    state.refresh_from_store().await;
    ok(&team)
}

/// `POST /team/update`: `{"team_id", …patch}` → the team.
pub async fn update(state: &AppState, req: &AdminRequest) -> AdminResult {
    req.require_master()?;
    let mut body = req.object()?;
    let team_id = required_str(&body, "team_id")?.to_string();
    body.remove("team_id");
    let patch: TeamPatch = parse(Value::Object(body))?;
    super::keys::configured_guardrails(
        state,
        patch.guardrails.as_ref().and_then(|g| g.as_deref()),
    )?;
    let team = state.store.update_team(&team_id, patch).await?;
    state.refresh_from_store().await;
    ok(&team)
}

/// `POST /team/block` and `/team/unblock`: `{"team_id"}` → the team. A blocked team's
/// keys are refused by the filter (401 `key_blocked`).
pub async fn set_blocked(state: &AppState, req: &AdminRequest, blocked: bool) -> AdminResult {
    req.require_master()?;
    let body = req.object()?;
    let team_id = required_str(&body, "team_id")?;
    let patch = TeamPatch {
        blocked: Some(blocked),
        ..Default::default()
    };
    let team = state.store.update_team(team_id, patch).await?;
    state.refresh_from_store().await;
    ok(&team)
}

/// `POST /team/delete`: `{"team_ids": [...]}` → `{"deleted_teams": [team…]}`. Every team
/// is checked (exists, no keys) before the first is deleted.
pub async fn delete(state: &AppState, req: &AdminRequest) -> AdminResult {
    req.require_master()?;
    let body = req.object()?;
    let mut ids = required_strings(&body, "team_ids")?;
    let mut seen = std::collections::HashSet::new();
    ids.retain(|id| seen.insert(id.clone()));
    for id in &ids {
        state.store.get_team(id).await?;
        let keys = state.store.list_team_keys(id).await?;
        if !keys.is_empty() {
            return Err(ApiError::Conflict(format!(
                "team `{id}` still has {} key(s); delete them or move them to another team first",
                keys.len()
            )));
        }
    }
    let mut deleted: Vec<TeamRecord> = Vec::with_capacity(ids.len());
    for id in &ids {
        match state.store.delete_team(id).await {
            Ok(t) => deleted.push(t),
            Err(e) => {
                if !deleted.is_empty() {
                    state.refresh_from_store().await;
                }
                return Err(e.into());
            }
        }
    }
    state.refresh_from_store().await;
    ok(&serde_json::json!({ "deleted_teams": deleted }))
}

/// `GET /team/info?team_id=` → `{"team_id", "team_info": team, "keys": [key…]}`.
pub async fn info(state: &AppState, req: &AdminRequest) -> AdminResult {
    req.require_master()?;
    let team_id = req
        .query("team_id")
        .ok_or_else(|| ApiError::missing("team_id"))?;
    let team = state.store.get_team(team_id).await?;
    let keys = state.store.list_team_keys(team_id).await?;
    let spend = super::spend::total(
        state,
        meshgate_store::SpendOwner::Team,
        &team.team_id,
        &team.budget,
    )
    .await?;
    let mut team_info = super::request::to_object(&team)?;
    team_info.insert("spend".into(), spend.into());
    ok(&serde_json::json!({"team_id": team.team_id, "team_info": team_info, "keys": keys}))
}

/// `GET /team/list[?organization_id=]` → `[team…]`.
pub async fn list(state: &AppState, req: &AdminRequest) -> AdminResult {
    req.require_master()?;
    let org = req.query("organization_id");
    let teams: Vec<TeamRecord> = state
        .store
        .list_teams()
        .await?
        .into_iter()
        .filter(|t| org.is_none_or(|o| t.organization_id.as_deref() == Some(o)))
        .collect();
    ok(&teams)
}

/// `POST /team/member_add`: `{"team_id", "member": {"user_id", "role"} | [...]}` → the
/// team. Every member is checked before the first is added.
pub async fn member_add(state: &AppState, req: &AdminRequest) -> AdminResult {
    req.require_master()?;
    let body = req.object()?;
    let team_id = required_str(&body, "team_id")?;
    let members: Vec<TeamMember> = match body.get("member") {
        None | Some(Value::Null) => return Err(ApiError::missing("member")),
        Some(Value::Array(items)) => {
            let list = parse::<Vec<TeamMember>>(Value::Array(items.clone()))
                .map_err(|e| prefix_field(e, "member"))?;
            if list.is_empty() {
                return Err(ApiError::invalid(
                    "member",
                    "invalid member: the list is empty",
                ));
            }
            list
        }
        Some(one) => vec![parse::<TeamMember>(one.clone()).map_err(|e| prefix_field(e, "member"))?],
    };
    let team = state.store.get_team(team_id).await?;
    for (i, m) in members.iter().enumerate() {
        let twice = members[..i].iter().any(|o| o.user_id == m.user_id);
        if twice || team.members.iter().any(|o| o.user_id == m.user_id) {
            return Err(ApiError::Conflict(format!(
                "user `{}` is already a member of team `{team_id}`",
                m.user_id
            )));
        }
    }
    let mut current = team;
    for m in members {
        current = match state.store.add_team_member(team_id, m).await {
            Ok(t) => t,
            Err(e) => {
                state.refresh_from_store().await;
                return Err(e.into());
            }
        };
    }
    state.refresh_from_store().await;
    ok(&current)
}

/// `POST /team/member_update`: `{"team_id", "user_id", "role"}` → the team.
pub async fn member_update(state: &AppState, req: &AdminRequest) -> AdminResult {
    req.require_master()?;
    let mut body = req.object()?;
    let team_id = required_str(&body, "team_id")?.to_string();
    body.remove("team_id");
    required_str(&body, "user_id")?;
    let member: TeamMember = parse(Value::Object(body))?;
    let team = state.store.update_team_member(&team_id, member).await?;
    state.refresh_from_store().await;
    ok(&team)
}

/// `POST /team/member_delete`: `{"team_id", "user_id"}` → the team.
pub async fn member_delete(state: &AppState, req: &AdminRequest) -> AdminResult {
    req.require_master()?;
    let body = req.object()?;
    let team_id = required_str(&body, "team_id")?;
    let user_id = required_str(&body, "user_id")?;
    let team = state.store.remove_team_member(team_id, user_id).await?;
    state.refresh_from_store().await;
    ok(&team)
}

fn prefix_field(e: ApiError, prefix: &str) -> ApiError {
    match e {
        ApiError::Invalid { field, message } => {
            let full = if field == "body" {
                prefix.to_string()
            } else if field.starts_with('[') {
                format!("{prefix}{field}")
            } else {
                format!("{prefix}.{field}")
            };
            ApiError::Invalid {
                message: message.replacen(
                    &format!("invalid {field}"),
                    &format!("invalid {full}"),
                    1,
                ),
                field: full,
            }
        }
        other => other,
    }
}
