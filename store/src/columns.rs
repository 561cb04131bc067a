//! Conversions shared by every table: permission columns, JSON objects, patches.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::db::{Row, Q};
use crate::error::StoreError;
use crate::records::{JsonObject, ObjectPermission, ObjectPermissionPatch};

/// Column list of the three permission columns, in bind order.
pub(crate) const PERMISSION_COLUMNS: &str = "mcp_servers, mcp_access_groups, mcp_tool_permissions";

fn string_list(items: &[String]) -> Value {
    Value::Array(items.iter().cloned().map(Value::String).collect())
}

/// Binds the three permission columns (NULL = not set, `[]` = nothing).
pub(crate) fn bind_permission(q: Q, p: &ObjectPermission) -> Q {
    let tools = p.mcp_tool_permissions.as_ref().map(|m| {
        Value::Object(
            m.iter()
                .map(|(server, tools)| (server.clone(), string_list(tools)))
                .collect(),
        )
    });
    q.json(p.mcp_servers.as_deref().map(string_list))
        .json(p.mcp_access_groups.as_deref().map(string_list))
        .json(tools)
}

fn decode<T: serde::de::DeserializeOwned>(
    row: &Row,
    column: &str,
) -> Result<Option<T>, StoreError> {
    match row.json(column)? {
        None | Some(Value::Null) => Ok(None),
        Some(v) => serde_json::from_value(v)
            .map(Some)
            .map_err(|e| StoreError::Database(format!("column {column} holds bad JSON: {e}"))),
    }
}

pub(crate) fn permission_from_row(row: &Row) -> Result<ObjectPermission, StoreError> {
    Ok(ObjectPermission {
        mcp_servers: decode::<Vec<String>>(row, "mcp_servers")?,
        mcp_access_groups: decode::<Vec<String>>(row, "mcp_access_groups")?,
        mcp_tool_permissions: decode::<BTreeMap<String, Vec<String>>>(row, "mcp_tool_permissions")?,
    })
}

/// A JSON list of names (NULL = none).
pub(crate) fn names_from_row(row: &Row, column: &str) -> Result<Vec<String>, StoreError> {
    Ok(decode::<Vec<String>>(row, column)?.unwrap_or_default())
}

/// Binds a list of names; an empty list is stored as NULL.
pub(crate) fn names_value(names: &[String]) -> Option<Value> {
    (!names.is_empty()).then(|| string_list(names))
}

pub(crate) fn object_from_row(row: &Row, column: &str) -> Result<JsonObject, StoreError> {
    Ok(decode::<JsonObject>(row, column)?.unwrap_or_default())
}

pub(crate) fn object_value(o: &JsonObject) -> Option<Value> {
    Some(Value::Object(o.clone()))
}

/// Applies a nullable permission patch: `null` clears all three fields.
pub(crate) fn patch_permission(
    current: &mut ObjectPermission,
    patch: Option<Option<ObjectPermissionPatch>>,
) {
    match patch {
        None => {}
        Some(None) => *current = ObjectPermission::default(),
        Some(Some(p)) => current.apply(p),
    }
}

/// Applies a nullable field patch.
pub(crate) fn patch<T>(current: &mut Option<T>, patch: Option<Option<T>>) {
    if let Some(v) = patch {
        *current = v;
    }
}

/// Applies a nullable object patch: `null` empties the object.
pub(crate) fn patch_object(current: &mut JsonObject, patch: Option<Option<JsonObject>>) {
    if let Some(v) = patch {
        *current = v.unwrap_or_default();
    }
}
