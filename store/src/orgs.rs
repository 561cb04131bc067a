//! Organizations.

use crate::budget::{Budget, BUDGET_COLUMNS};
use crate::columns::{
    bind_permission, object_from_row, object_value, patch_object, patch_permission,
    permission_from_row, PERMISSION_COLUMNS,
};
use crate::db::{Row, Tx, Q};
use crate::error::StoreError;
use crate::open::Store;
use crate::records::{NewOrganization, OrganizationPatch, OrganizationRecord};
use crate::validate;

const KIND: &str = "organization";

fn select_sql(filter: &str) -> String {
    format!(
        "SELECT organization_id, organization_alias, metadata, {PERMISSION_COLUMNS}, \
         {BUDGET_COLUMNS}, created_at, updated_at FROM organizations {filter}"
    )
}

fn from_row(row: &Row) -> Result<OrganizationRecord, StoreError> {
    Ok(OrganizationRecord {
        organization_id: row.get("organization_id")?,
        organization_alias: row.get("organization_alias")?,
        metadata: object_from_row(row, "metadata")?,
        object_permission: permission_from_row(row)?,
        budget: Budget::from_row(row)?,
        created_at: row.get("created_at")?,
        updated_at: row.get("updated_at")?,
    })
}

pub(crate) async fn exists(tx: &mut Tx, organization_id: &str) -> Result<bool, StoreError> {
    tx.exists(
        Q::new("SELECT 1 FROM organizations WHERE organization_id = $1").text(organization_id),
    )
    .await
}

async fn load(tx: &mut Tx, organization_id: &str) -> Result<OrganizationRecord, StoreError> {
    tx.fetch_optional(Q::new(select_sql("WHERE organization_id = $1")).text(organization_id))
        .await?
        .as_ref()
        .map(from_row)
        .transpose()?
        .ok_or_else(|| StoreError::not_found(KIND, organization_id))
}

pub(crate) async fn list(tx: &mut Tx) -> Result<Vec<OrganizationRecord>, StoreError> {
    tx.fetch_all(Q::new(select_sql("ORDER BY created_at, organization_id")))
        .await?
        .iter()
        .map(from_row)
        .collect()
}

fn validate_record(o: &OrganizationRecord) -> Result<(), StoreError> {
    validate::text("organization_id", &o.organization_id)?;
    validate::text("organization_alias", &o.organization_alias)?;
    validate::json_object("metadata", &o.metadata)?;
    validate::permission(&o.object_permission)
}

async fn check_alias(tx: &mut Tx, o: &OrganizationRecord) -> Result<(), StoreError> {
    let taken = tx
        .exists(
            Q::new(
                "SELECT 1 FROM organizations WHERE organization_alias = $1 \
                 AND organization_id <> $2",
            )
            .text(&o.organization_alias)
            .text(&o.organization_id),
        )
        .await?;
    if taken {
        return Err(StoreError::conflict(format!(
            "organization_alias `{}` is already used by another organization",
            o.organization_alias
        )));
    }
    Ok(())
}

impl Store {
    pub async fn create_organization(
        &self,
        req: NewOrganization,
    ) -> Result<OrganizationRecord, StoreError> {
        let now = validate::now();
        let record = OrganizationRecord {
            organization_id: req
                .organization_id
                .unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
            organization_alias: req.organization_alias,
            metadata: req.metadata.unwrap_or_default(),
            object_permission: req.object_permission,
            budget: Budget::create(req.budget, now)?,
            created_at: now,
            updated_at: now,
        };
        validate_record(&record)?;
        let mut tx = self.write().await?;
        if exists(&mut tx, &record.organization_id).await? {
            return Err(StoreError::conflict(format!(
                "organization `{}` already exists",
                record.organization_id
            )));
        }
        check_alias(&mut tx, &record).await?;
        let q = Q::new(format!(
            "INSERT INTO organizations (organization_id, organization_alias, metadata, \
             {PERMISSION_COLUMNS}, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        ))
        .text(&record.organization_id)
        .text(&record.organization_alias)
        .json(object_value(&record.metadata));
        let q = bind_permission(q, &record.object_permission)
            .time(Some(record.created_at))
            .time(Some(record.updated_at));
        tx.execute(q).await?;
        record
            .budget
            .store(
                &mut tx,
                "organizations",
                "organization_id",
                &record.organization_id,
            )
            .await?;
        tx.commit().await?;
        Ok(record)
    }

    /// Changes an organization; fields absent from `patch` are unchanged.
    pub async fn update_organization(
        &self,
        organization_id: &str,
        patch: OrganizationPatch,
    ) -> Result<OrganizationRecord, StoreError> {
        let mut tx = self.write().await?;
        let mut o = load(&mut tx, organization_id).await?;
        if let Some(alias) = patch.organization_alias {
            o.organization_alias = alias;
        }
        patch_object(&mut o.metadata, patch.metadata);
        patch_permission(&mut o.object_permission, patch.object_permission);
        let now = validate::now();
        o.budget.apply(patch.budget, now)?;
        o.updated_at = now.max(o.created_at);
        validate_record(&o)?;
        check_alias(&mut tx, &o).await?;
        let q = Q::new(
            "UPDATE organizations SET organization_alias = $1, metadata = $2, mcp_servers = $3, \
             mcp_access_groups = $4, mcp_tool_permissions = $5, updated_at = $6 \
             WHERE organization_id = $7",
        )
        .text(&o.organization_alias)
        .json(object_value(&o.metadata));
        let q = bind_permission(q, &o.object_permission)
            .time(Some(o.updated_at))
            .text(&o.organization_id);
        tx.execute(q).await?;
        o.budget
            .store(
                &mut tx,
                "organizations",
                "organization_id",
                &o.organization_id,
            )
            .await?;
        tx.commit().await?;
        Ok(o)
    }

    /// Deletes an organization. Refused with `Conflict` while teams or keys still belong to it.
    pub async fn delete_organization(
        &self,
        organization_id: &str,
    ) -> Result<OrganizationRecord, StoreError> {
        let mut tx = self.write().await?;
        let o = load(&mut tx, organization_id).await?;
        let row = tx
            .fetch_one(
                Q::new(
                    "SELECT (SELECT COUNT(*) FROM teams WHERE organization_id = $1) AS teams, \
                     (SELECT COUNT(*) FROM api_keys WHERE organization_id = $1) AS keys",
                )
                .text(organization_id),
            )
            .await?;
        let (teams, keys): (i64, i64) = (row.get("teams")?, row.get("keys")?);
        if teams > 0 || keys > 0 {
            return Err(StoreError::conflict(format!(
                "organization `{organization_id}` still has {teams} team(s) and {keys} key(s); \
                 delete them or move them first"
            )));
        }
        tx.execute(
            Q::new("DELETE FROM organizations WHERE organization_id = $1").text(organization_id),
        )
        .await?;
        tx.commit().await?;
        Ok(o)
    }

    pub async fn get_organization(
        &self,
        organization_id: &str,
    ) -> Result<OrganizationRecord, StoreError> {
        let mut tx = self.read().await?;
        let o = load(&mut tx, organization_id).await;
        tx.commit().await?;
        o
    }

    /// Every organization, oldest first.
    pub async fn list_organizations(&self) -> Result<Vec<OrganizationRecord>, StoreError> {
        let mut tx = self.read().await?;
        let orgs = list(&mut tx).await?;
        tx.commit().await?;
        Ok(orgs)
    }
}
