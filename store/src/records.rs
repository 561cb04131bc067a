//! Records returned by the store, and the requests and patches that create and change them.
//!
//! JSON field names follow LiteLLM's admin API where it has one. Patches use
//! `Option<Option<T>>` for nullable fields: absent (`None`) leaves the field unchanged, JSON
//! `null` (`Some(None)`) clears it, a value (`Some(Some(v))`) sets it.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

pub use crate::budget::{Budget, BudgetInput, BudgetPatch};

/// A JSON object (`metadata`, a server's `config`).
pub type JsonObject = Map<String, Value>;

/// MCP permissions of a key, team or organization, in LiteLLM's `object_permission` shape.
///
/// `None` means "not set" (this level does not restrict); `Some(vec![])` means "nothing".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectPermission {
    /// Server ids, names or aliases.
    #[serde(default)]
    pub mcp_servers: Option<Vec<String>>,
    /// Access group names (servers' `access_groups`).
    #[serde(default)]
    pub mcp_access_groups: Option<Vec<String>>,
    /// Server (id, name or alias) → allowed bare tool names.
    #[serde(default)]
    pub mcp_tool_permissions: Option<BTreeMap<String, Vec<String>>>,
}

/// A change to an [`ObjectPermission`]; each field follows the patch convention.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectPermissionPatch {
    #[serde(
        default,
        deserialize_with = "double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub mcp_servers: Option<Option<Vec<String>>>,
    #[serde(
        default,
        deserialize_with = "double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub mcp_access_groups: Option<Option<Vec<String>>>,
    #[serde(
        default,
        deserialize_with = "double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub mcp_tool_permissions: Option<Option<BTreeMap<String, Vec<String>>>>,
}

impl ObjectPermission {
    /// Applies a patch (`None` = unchanged, `Some(None)` = cleared, `Some(Some(v))` = set).
    pub fn apply(&mut self, patch: ObjectPermissionPatch) {
        if let Some(v) = patch.mcp_servers {
            self.mcp_servers = v;
        }
        if let Some(v) = patch.mcp_access_groups {
            self.mcp_access_groups = v;
        }
        if let Some(v) = patch.mcp_tool_permissions {
            self.mcp_tool_permissions = v;
        }
    }
}

/// A virtual key. The plaintext is never stored: `token` is its SHA-256 (lowercase hex) and is
/// also the key's id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyRecord {
    /// Lowercase hex SHA-256 of the whole plaintext key; the key's id.
    pub token: String,
    /// Display form, `sk-...` followed by the last 4 characters (LiteLLM's abbreviation).
    pub key_name: String,
    pub key_alias: Option<String>,
    pub metadata: JsonObject,
    pub team_id: Option<String>,
    pub user_id: Option<String>,
    pub organization_id: Option<String>,
    /// After this instant the key is refused; `None` = never expires.
    pub expires: Option<DateTime<Utc>>,
    pub blocked: bool,
    /// Requests per minute; `None` = no limit.
    pub rpm_limit: Option<i64>,
    pub object_permission: ObjectPermission,
    /// Guardrail names attached to the key (LiteLLM's `guardrails`).
    #[serde(default)]
    pub guardrails: Vec<String>,
    /// Model names (`model_list`'s `model_name`) the key may call; empty = every model
    /// (LiteLLM's `models`).
    #[serde(default)]
    pub models: Vec<String>,
    #[serde(flatten)]
    pub budget: Budget,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl KeyRecord {
    /// Not blocked and not expired at `now` (a key expires at `expires`, inclusive).
    pub fn is_usable(&self, now: DateTime<Utc>) -> bool {
        !self.blocked && !self.is_expired(now)
    }

    /// Whether `expires` is set and `now` has reached it.
    pub fn is_expired(&self, now: DateTime<Utc>) -> bool {
        self.expires.is_some_and(|e| now >= e)
    }
}

/// `/key/generate`. Unknown JSON fields (LiteLLM's `tpm_limit`, …) are ignored.
#[derive(Clone, Default, Serialize, Deserialize)]
pub struct NewKey {
    /// A caller-chosen plaintext key (`sk-…`, 20–256 printable ASCII characters); random if absent.
    #[serde(default)]
    pub key: Option<String>,
    #[serde(default)]
    pub key_alias: Option<String>,
    #[serde(default)]
    pub metadata: Option<JsonObject>,
    #[serde(default)]
    pub team_id: Option<String>,
    #[serde(default)]
    pub user_id: Option<String>,
    #[serde(default)]
    pub organization_id: Option<String>,
    /// Absolute expiry; exclusive with `duration`.
    #[serde(default)]
    pub expires: Option<DateTime<Utc>>,
    /// LiteLLM duration (`30s`, `15m`, `12h`, `7d`, `2w`, `1mo`, `1y`) from now; exclusive with `expires`.
    #[serde(default)]
    pub duration: Option<String>,
    #[serde(default)]
    pub blocked: Option<bool>,
    #[serde(default)]
    pub rpm_limit: Option<i64>,
    #[serde(default)]
    pub object_permission: ObjectPermission,
    /// Guardrail names to attach (checked against the configuration by the admin API).
    #[serde(default)]
    pub guardrails: Option<Vec<String>>,
    /// Models the key may call (LiteLLM's `models`); absent or empty = every model.
    #[serde(default)]
    pub models: Option<Vec<String>>,
    #[serde(flatten)]
    pub budget: BudgetInput,
}

impl fmt::Debug for NewKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewKey")
            .field("key", &self.key.as_ref().map(|_| "<redacted>"))
            .field("key_alias", &self.key_alias)
            .field("metadata", &self.metadata)
            .field("team_id", &self.team_id)
            .field("user_id", &self.user_id)
            .field("organization_id", &self.organization_id)
            .field("expires", &self.expires)
            .field("duration", &self.duration)
            .field("blocked", &self.blocked)
            .field("rpm_limit", &self.rpm_limit)
            .field("object_permission", &self.object_permission)
            .field("guardrails", &self.guardrails)
            .field("models", &self.models)
            .field("budget", &self.budget)
            .finish()
    }
}

/// `/key/update`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct KeyPatch {
    #[serde(
        default,
        deserialize_with = "double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub key_alias: Option<Option<String>>,
    /// Replaces the whole object; `null` empties it.
    #[serde(
        default,
        deserialize_with = "double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub metadata: Option<Option<JsonObject>>,
    #[serde(
        default,
        deserialize_with = "double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub team_id: Option<Option<String>>,
    #[serde(
        default,
        deserialize_with = "double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub user_id: Option<Option<String>>,
    #[serde(
        default,
        deserialize_with = "double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub organization_id: Option<Option<String>>,
    /// `null` removes the expiry; exclusive with `duration`.
    #[serde(
        default,
        deserialize_with = "double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub expires: Option<Option<DateTime<Utc>>>,
    /// New expiry counted from now (LiteLLM duration); exclusive with `expires`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blocked: Option<bool>,
    #[serde(
        default,
        deserialize_with = "double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub rpm_limit: Option<Option<i64>>,
    /// Field-wise patch; `null` clears all three permission fields.
    #[serde(
        default,
        deserialize_with = "double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub object_permission: Option<Option<ObjectPermissionPatch>>,
    /// Replaces the attached guardrail names; `null` removes them all.
    #[serde(
        default,
        deserialize_with = "double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub guardrails: Option<Option<Vec<String>>>,
    /// Replaces the models the key may call; `null` or `[]` = every model.
    #[serde(
        default,
        deserialize_with = "double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub models: Option<Option<Vec<String>>>,
    #[serde(flatten)]
    pub budget: BudgetPatch,
}

/// A team member's role (LiteLLM's `Member.role`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TeamRole {
    Admin,
    User,
}

impl TeamRole {
    pub fn as_str(self) -> &'static str {
        match self {
            TeamRole::Admin => "admin",
            TeamRole::User => "user",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<TeamRole> {
        match s {
            "admin" => Some(TeamRole::Admin),
            "user" => Some(TeamRole::User),
            _ => None,
        }
    }
}

/// One member of a team.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeamMember {
    pub user_id: String,
    #[serde(default = "default_role")]
    pub role: TeamRole,
}

fn default_role() -> TeamRole {
    TeamRole::User
}

/// A team.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TeamRecord {
    pub team_id: String,
    pub team_alias: Option<String>,
    pub organization_id: Option<String>,
    /// Ordered by `user_id`. JSON name as in LiteLLM (`members_with_roles`); `members` is
    /// accepted on input.
    #[serde(rename = "members_with_roles", alias = "members")]
    pub members: Vec<TeamMember>,
    pub metadata: JsonObject,
    pub blocked: bool,
    pub rpm_limit: Option<i64>,
    pub object_permission: ObjectPermission,
    /// Guardrail names attached to the team (its keys get them too).
    #[serde(default)]
    pub guardrails: Vec<String>,
    #[serde(flatten)]
    pub budget: Budget,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// `/team/new`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NewTeam {
    /// Random UUID if absent.
    #[serde(default)]
    pub team_id: Option<String>,
    #[serde(default)]
    pub team_alias: Option<String>,
    #[serde(default)]
    pub organization_id: Option<String>,
    #[serde(default, rename = "members_with_roles", alias = "members")]
    pub members: Vec<TeamMember>,
    #[serde(default)]
    pub metadata: Option<JsonObject>,
    #[serde(default)]
    pub blocked: Option<bool>,
    #[serde(default)]
    pub rpm_limit: Option<i64>,
    #[serde(default)]
    pub object_permission: ObjectPermission,
    #[serde(default)]
    pub guardrails: Option<Vec<String>>,
    #[serde(flatten)]
    pub budget: BudgetInput,
}

/// `/team/update` (members change through `add_team_member` / `remove_team_member`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TeamPatch {
    #[serde(
        default,
        deserialize_with = "double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub team_alias: Option<Option<String>>,
    #[serde(
        default,
        deserialize_with = "double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub organization_id: Option<Option<String>>,
    #[serde(
        default,
        deserialize_with = "double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub metadata: Option<Option<JsonObject>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blocked: Option<bool>,
    #[serde(
        default,
        deserialize_with = "double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub rpm_limit: Option<Option<i64>>,
    #[serde(
        default,
        deserialize_with = "double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub object_permission: Option<Option<ObjectPermissionPatch>>,
    /// Replaces the attached guardrail names; `null` removes them all.
    #[serde(
        default,
        deserialize_with = "double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub guardrails: Option<Option<Vec<String>>>,
    #[serde(flatten)]
    pub budget: BudgetPatch,
}

/// An organization.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrganizationRecord {
    pub organization_id: String,
    pub organization_alias: String,
    pub metadata: JsonObject,
    pub object_permission: ObjectPermission,
    #[serde(flatten)]
    pub budget: Budget,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// `/organization/new`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NewOrganization {
    /// Random UUID if absent.
    #[serde(default)]
    pub organization_id: Option<String>,
    /// Required and unique.
    pub organization_alias: String,
    #[serde(default)]
    pub metadata: Option<JsonObject>,
    #[serde(default)]
    pub object_permission: ObjectPermission,
    #[serde(flatten)]
    pub budget: BudgetInput,
}

/// `/organization/update`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OrganizationPatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization_alias: Option<String>,
    #[serde(
        default,
        deserialize_with = "double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub metadata: Option<Option<JsonObject>>,
    #[serde(
        default,
        deserialize_with = "double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub object_permission: Option<Option<ObjectPermissionPatch>>,
    #[serde(flatten)]
    pub budget: BudgetPatch,
}

/// An MCP server defined in the database (`/v1/mcp/server`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct McpServerRecord {
    pub server_id: String,
    /// Unique (case-insensitively) among all server names and aliases.
    pub server_name: String,
    pub alias: Option<String>,
    pub description: Option<String>,
    /// The server's full configuration; validated by the caller (meshgate-policy's `ServerConfig`).
    pub config: JsonObject,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// `POST /v1/mcp/server`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewMcpServer {
    /// Random UUID if absent.
    #[serde(default)]
    pub server_id: Option<String>,
    pub server_name: String,
    #[serde(default)]
    pub alias: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub config: JsonObject,
}

/// `PUT /v1/mcp/server`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct McpServerPatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_name: Option<String>,
    #[serde(
        default,
        deserialize_with = "double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub alias: Option<Option<String>>,
    #[serde(
        default,
        deserialize_with = "double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub description: Option<Option<String>>,
    /// Replaces the whole config.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<JsonObject>,
}

/// Present-but-null → `Some(None)`; with `#[serde(default)]`, absent → `None`.
fn double_option<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}
