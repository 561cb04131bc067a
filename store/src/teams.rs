//! Teams and their members.

use std::collections::BTreeMap;

use crate::budget::{Budget, BUDGET_COLUMNS};
use crate::columns::{
    bind_permission, names_from_row, names_value, object_from_row, object_value, patch,
    patch_object, patch_permission, permission_from_row, PERMISSION_COLUMNS,
};
use crate::db::{Row, Tx, Q};
use crate::error::StoreError;
use crate::open::Store;
use crate::records::{NewTeam, TeamMember, TeamPatch, TeamRecord, TeamRole};
use crate::{orgs, validate};

const KIND: &str = "team";

fn select_sql(filter: &str) -> String {
    format!(
        "SELECT team_id, team_alias, organization_id, metadata, blocked, rpm_limit, \
         {PERMISSION_COLUMNS}, guardrails, {BUDGET_COLUMNS}, created_at, updated_at FROM teams {filter}"
    )
}

fn from_row(row: &Row, members: Vec<TeamMember>) -> Result<TeamRecord, StoreError> {
    Ok(TeamRecord {
        team_id: row.get("team_id")?,
        team_alias: row.get("team_alias")?,
        organization_id: row.get("organization_id")?,
        members,
        metadata: object_from_row(row, "metadata")?,
        blocked: row.get("blocked")?,
        rpm_limit: row.get("rpm_limit")?,
        object_permission: permission_from_row(row)?,
        guardrails: names_from_row(row, "guardrails")?,
        budget: Budget::from_row(row)?,
        created_at: row.get("created_at")?,
        updated_at: row.get("updated_at")?,
    })
}

fn member_from_row(row: &Row) -> Result<(String, TeamMember), StoreError> {
    let role: String = row.get("role")?;
    let role = TeamRole::parse(&role)
        .ok_or_else(|| StoreError::Database(format!("unknown team role `{role}`")))?;
    Ok((
        row.get("team_id")?,
        TeamMember {
            user_id: row.get("user_id")?,
            role,
        },
    ))
}

async fn members(tx: &mut Tx, team_id: &str) -> Result<Vec<TeamMember>, StoreError> {
    tx.fetch_all(
        Q::new(
            "SELECT team_id, user_id, role FROM team_members WHERE team_id = $1 ORDER BY user_id",
        )
        .text(team_id),
    )
    .await?
    .iter()
    .map(|r| member_from_row(r).map(|(_, m)| m))
    .collect()
}

pub(crate) async fn load(tx: &mut Tx, team_id: &str) -> Result<Option<TeamRecord>, StoreError> {
    let Some(row) = tx
        .fetch_optional(Q::new(select_sql("WHERE team_id = $1")).text(team_id))
        .await?
    else {
        return Ok(None);
    };
    let members = members(tx, team_id).await?;
    from_row(&row, members).map(Some)
}

async fn load_existing(tx: &mut Tx, team_id: &str) -> Result<TeamRecord, StoreError> {
    load(tx, team_id)
        .await?
        .ok_or_else(|| StoreError::not_found(KIND, team_id))
}

/// `None` if the team does not exist, else its organization.
pub(crate) async fn organization_of(
    tx: &mut Tx,
    team_id: &str,
) -> Result<Option<Option<String>>, StoreError> {
    tx.fetch_optional(Q::new("SELECT organization_id FROM teams WHERE team_id = $1").text(team_id))
        .await?
        .map(|row| row.get::<Option<String>>("organization_id"))
        .transpose()
}

fn validate_record(t: &TeamRecord) -> Result<(), StoreError> {
    validate::text("team_id", &t.team_id)?;
    validate::opt_text("team_alias", t.team_alias.as_deref())?;
    validate::opt_text("organization_id", t.organization_id.as_deref())?;
    validate::json_object("metadata", &t.metadata)?;
    validate::rpm_limit(t.rpm_limit)?;
    validate::names("guardrails", &t.guardrails)?;
    validate::permission(&t.object_permission)
}

async fn check_links(tx: &mut Tx, t: &TeamRecord) -> Result<(), StoreError> {
    if let Some(alias) = &t.team_alias {
        let taken = tx
            .exists(
                Q::new("SELECT 1 FROM teams WHERE team_alias = $1 AND team_id <> $2")
                    .text(alias)
                    .text(&t.team_id),
            )
            .await?;
        if taken {
            return Err(StoreError::conflict(format!(
                "team_alias `{alias}` is already used by another team"
            )));
        }
    }
    if let Some(org) = &t.organization_id {
        if !orgs::exists(tx, org).await? {
            return Err(StoreError::invalid(
                "organization_id",
                format!("organization `{org}` does not exist"),
            ));
        }
        let mismatched = tx
            .exists(
                Q::new(
                    "SELECT 1 FROM api_keys WHERE team_id = $1 AND organization_id IS NOT NULL \
                     AND organization_id <> $2",
                )
                .text(&t.team_id)
                .text(org),
            )
            .await?;
        if mismatched {
            return Err(StoreError::conflict(format!(
                "team `{}` has keys that belong to another organization than `{org}`",
                t.team_id
            )));
        }
    }
    Ok(())
}

async fn insert_member(tx: &mut Tx, team_id: &str, m: &TeamMember) -> Result<(), StoreError> {
    tx.execute(
        Q::new("INSERT INTO team_members (team_id, user_id, role) VALUES ($1, $2, $3)")
            .text(team_id)
            .text(&m.user_id)
            .text(m.role.as_str()),
    )
    .await?;
    Ok(())
}

async fn touch(tx: &mut Tx, team_id: &str) -> Result<(), StoreError> {
    tx.execute(
        Q::new("UPDATE teams SET updated_at = $1 WHERE team_id = $2")
            .time(Some(validate::now()))
            .text(team_id),
    )
    .await?;
    Ok(())
}

pub(crate) async fn list(tx: &mut Tx) -> Result<Vec<TeamRecord>, StoreError> {
    let rows = tx
        .fetch_all(Q::new(select_sql("ORDER BY created_at, team_id")))
        .await?;
    let member_rows = tx
        .fetch_all(Q::new(
            "SELECT team_id, user_id, role FROM team_members ORDER BY team_id, user_id",
        ))
        .await?;
    let mut by_team: BTreeMap<String, Vec<TeamMember>> = BTreeMap::new();
    for r in &member_rows {
        let (team, m) = member_from_row(r)?;
        by_team.entry(team).or_default().push(m);
    }
    rows.iter()
        .map(|row| {
            let id: String = row.get("team_id")?;
            from_row(row, by_team.remove(&id).unwrap_or_default())
        })
        .collect()
}

impl Store {
    /// Creates a team with its initial members.
    pub async fn create_team(&self, req: NewTeam) -> Result<TeamRecord, StoreError> {
        let now = validate::now();
        let mut members = req.members;
        validate::members(&members)?;
        members.sort_by(|a, b| a.user_id.cmp(&b.user_id));
        let record = TeamRecord {
            team_id: req
                .team_id
                .unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
            team_alias: req.team_alias,
            organization_id: req.organization_id,
            members,
            metadata: req.metadata.unwrap_or_default(),
            blocked: req.blocked.unwrap_or(false),
            rpm_limit: req.rpm_limit,
            object_permission: req.object_permission,
            guardrails: req.guardrails.unwrap_or_default(),
            budget: Budget::create(req.budget, now)?,
            created_at: now,
            updated_at: now,
        };
        validate_record(&record)?;

        let mut tx = self.write().await?;
        if organization_of(&mut tx, &record.team_id).await?.is_some() {
            return Err(StoreError::conflict(format!(
                "team `{}` already exists",
                record.team_id
            )));
        }
        check_links(&mut tx, &record).await?;
        let q = Q::new(format!(
            "INSERT INTO teams (team_id, team_alias, organization_id, metadata, blocked, \
             rpm_limit, {PERMISSION_COLUMNS}, guardrails, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
        ))
        .text(&record.team_id)
        .opt_text(record.team_alias.as_deref())
        .opt_text(record.organization_id.as_deref())
        .json(object_value(&record.metadata))
        .bool(record.blocked)
        .int(record.rpm_limit);
        let q = bind_permission(q, &record.object_permission)
            .json(names_value(&record.guardrails))
            .time(Some(record.created_at))
            .time(Some(record.updated_at));
        tx.execute(q).await?;
        record
            .budget
            .store(&mut tx, "teams", "team_id", &record.team_id)
            .await?;
        for m in &record.members {
            insert_member(&mut tx, &record.team_id, m).await?;
        }
        tx.commit().await?;
        Ok(record)
    }

    /// Changes a team; fields absent from `patch` are unchanged.
    pub async fn update_team(
        &self,
        team_id: &str,
        patch_req: TeamPatch,
    ) -> Result<TeamRecord, StoreError> {
        let mut tx = self.write().await?;
        let mut t = load_existing(&mut tx, team_id).await?;
        patch(&mut t.team_alias, patch_req.team_alias);
        patch(&mut t.organization_id, patch_req.organization_id);
        patch_object(&mut t.metadata, patch_req.metadata);
        if let Some(b) = patch_req.blocked {
            t.blocked = b;
        }
        patch(&mut t.rpm_limit, patch_req.rpm_limit);
        patch_permission(&mut t.object_permission, patch_req.object_permission);
        if let Some(names) = patch_req.guardrails {
            t.guardrails = names.unwrap_or_default();
        }
        let now = validate::now();
        t.budget.apply(patch_req.budget, now)?;
        t.updated_at = now.max(t.created_at);
        validate_record(&t)?;
        check_links(&mut tx, &t).await?;
        let q = Q::new(
            "UPDATE teams SET team_alias = $1, organization_id = $2, metadata = $3, blocked = $4, \
             rpm_limit = $5, mcp_servers = $6, mcp_access_groups = $7, \
             mcp_tool_permissions = $8, guardrails = $9, updated_at = $10 WHERE team_id = $11",
        )
        .opt_text(t.team_alias.as_deref())
        .opt_text(t.organization_id.as_deref())
        .json(object_value(&t.metadata))
        .bool(t.blocked)
        .int(t.rpm_limit);
        let q = bind_permission(q, &t.object_permission)
            .json(names_value(&t.guardrails))
            .time(Some(t.updated_at))
            .text(&t.team_id);
        tx.execute(q).await?;
        t.budget
            .store(&mut tx, "teams", "team_id", &t.team_id)
            .await?;
        tx.commit().await?;
        Ok(t)
    }

    /// Deletes a team and its memberships. Refused with `Conflict` while keys still belong to
    /// the team (delete or move them first): deleting access silently is never a side effect.
    pub async fn delete_team(&self, team_id: &str) -> Result<TeamRecord, StoreError> {
        let mut tx = self.write().await?;
        let t = load_existing(&mut tx, team_id).await?;
        let keys: i64 = tx
            .fetch_one(
                Q::new("SELECT COUNT(*) AS n FROM api_keys WHERE team_id = $1").text(team_id),
            )
            .await?
            .get("n")?;
        if keys > 0 {
            return Err(StoreError::conflict(format!(
                "team `{team_id}` still has {keys} key(s); delete them or move them to another team first"
            )));
        }
        tx.execute(Q::new("DELETE FROM team_members WHERE team_id = $1").text(team_id))
            .await?;
        tx.execute(Q::new("DELETE FROM teams WHERE team_id = $1").text(team_id))
            .await?;
        tx.commit().await?;
        Ok(t)
    }

    pub async fn get_team(&self, team_id: &str) -> Result<TeamRecord, StoreError> {
        let mut tx = self.read().await?;
        let t = load_existing(&mut tx, team_id).await;
        tx.commit().await?;
        t
    }

    /// Every team with its members, oldest first.
    pub async fn list_teams(&self) -> Result<Vec<TeamRecord>, StoreError> {
        let mut tx = self.read().await?;
        let teams = list(&mut tx).await?;
        tx.commit().await?;
        Ok(teams)
    }

    /// Adds a member; `Conflict` if the user is already in the team.
    pub async fn add_team_member(
        &self,
        team_id: &str,
        member: TeamMember,
    ) -> Result<TeamRecord, StoreError> {
        validate::member("member", &member)?;
        let mut tx = self.write().await?;
        load_existing(&mut tx, team_id).await?;
        let present = tx
            .exists(
                Q::new("SELECT 1 FROM team_members WHERE team_id = $1 AND user_id = $2")
                    .text(team_id)
                    .text(&member.user_id),
            )
            .await?;
        if present {
            return Err(StoreError::conflict(format!(
                "user `{}` is already a member of team `{team_id}`",
                member.user_id
            )));
        }
        insert_member(&mut tx, team_id, &member).await?;
        touch(&mut tx, team_id).await?;
        let t = load_existing(&mut tx, team_id).await?;
        tx.commit().await?;
        Ok(t)
    }

    /// Changes a member's role; `NotFound` (kind `team_member`) if the user is not in the team.
    pub async fn update_team_member(
        &self,
        team_id: &str,
        member: TeamMember,
    ) -> Result<TeamRecord, StoreError> {
        validate::member("member", &member)?;
        let mut tx = self.write().await?;
        load_existing(&mut tx, team_id).await?;
        let n = tx
            .execute(
                Q::new("UPDATE team_members SET role = $1 WHERE team_id = $2 AND user_id = $3")
                    .text(member.role.as_str())
                    .text(team_id)
                    .text(&member.user_id),
            )
            .await?;
        if n == 0 {
            return Err(StoreError::not_found("team_member", member.user_id));
        }
        touch(&mut tx, team_id).await?;
        let t = load_existing(&mut tx, team_id).await?;
        tx.commit().await?;
        Ok(t)
    }

    /// Removes a member; `NotFound` (kind `team_member`) if the user is not in the team.
    pub async fn remove_team_member(
        &self,
        team_id: &str,
        user_id: &str,
    ) -> Result<TeamRecord, StoreError> {
        let mut tx = self.write().await?;
        load_existing(&mut tx, team_id).await?;
        let n = tx
            .execute(
                Q::new("DELETE FROM team_members WHERE team_id = $1 AND user_id = $2")
                    .text(team_id)
                    .text(user_id),
            )
            .await?;
        if n == 0 {
            return Err(StoreError::not_found("team_member", user_id));
        }
        touch(&mut tx, team_id).await?;
        let t = load_existing(&mut tx, team_id).await?;
        tx.commit().await?;
        Ok(t)
    }
}
