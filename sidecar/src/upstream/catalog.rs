//! A server's tools as the gateway lists them: prefixed JSON ready to concatenate, the
//! bare names in the order listed, and every bare name that reaches a tool (for
//! routing). One builder for MCP servers' `tools/list` pages and for REST APIs' tools.

use serde_json::value::RawValue;
use serde_json::Value;
use std::collections::HashSet;
use std::time::Instant;

use crate::naming::prefixed;

pub struct ToolCatalog {
    pub fetched_at: Instant,
    /// The server's list_changed count when fetched; older catalogs are stale.
    pub generation: u64,
    pub prefixed: Vec<Box<RawValue>>,
    /// Bare names, in the order of `prefixed`.
    pub names: Vec<String>,
    pub bare_names: HashSet<String>,
}

/// One tool: its bare name, its JSON as listed (under the prefixed name), and another
/// name that reaches it without being listed (a REST tool's other spelling).
pub struct CatalogEntry {
    pub name: String,
    pub json: Box<RawValue>,
    pub alias: Option<String>,
}

impl CatalogEntry {
    /// An MCP `Tool` object as a server listed it, renamed under `prefix`; None without
    /// a string `name`.
    pub fn listed(prefix: &str, mut tool: Value) -> Option<CatalogEntry> {
        let name = tool.get("name")?.as_str()?.to_string();
        tool.as_object_mut()?
            .insert("name".into(), Value::String(prefixed(prefix, &name)));
        let json = serde_json::value::to_raw_value(&tool).ok()?;
        Some(CatalogEntry {
            name,
            json,
            alias: None,
        })
    }
}

impl ToolCatalog {
    /// The catalog of `entries`, listed in their order.
    pub fn build(generation: u64, entries: impl IntoIterator<Item = CatalogEntry>) -> ToolCatalog {
        let entries = entries.into_iter();
        let mut catalog = ToolCatalog {
            fetched_at: Instant::now(),
            generation,
            prefixed: Vec::with_capacity(entries.size_hint().0),
            names: Vec::with_capacity(entries.size_hint().0),
            bare_names: HashSet::with_capacity(entries.size_hint().0),
        };
        for entry in entries {
            catalog.bare_names.insert(entry.name.clone());
            catalog.bare_names.extend(entry.alias);
            catalog.prefixed.push(entry.json);
            catalog.names.push(entry.name);
        }
        catalog
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn entry(name: &str, alias: Option<&str>) -> CatalogEntry {
        CatalogEntry {
            name: name.into(),
            json: RawValue::from_string(format!(r#"{{"name":"p-{name}"}}"#)).unwrap(),
            alias: alias.map(str::to_string),
        }
    }

    #[test]
    fn tools_are_listed_in_order_and_aliases_only_route() {
        let c = ToolCatalog::build(3, [entry("b", None), entry("a", Some("A"))]);
        assert_eq!(c.generation, 3);
        assert_eq!(c.names, ["b", "a"]);
        let listed: Vec<&str> = c.prefixed.iter().map(|r| r.get()).collect();
        assert_eq!(listed, [r#"{"name":"p-b"}"#, r#"{"name":"p-a"}"#]);
        let mut routable: Vec<&String> = c.bare_names.iter().collect();
        routable.sort();
        assert_eq!(routable, ["A", "a", "b"]);
    }

    #[test]
    fn a_listed_tool_is_renamed_under_the_prefix_and_keeps_the_rest() {
        let tool = json!({"name": "add", "description": "sum", "inputSchema": {"type": "object"}});
        let e = CatalogEntry::listed("calc", tool).unwrap();
        assert_eq!(e.name, "add");
        let json: Value = serde_json::from_str(e.json.get()).unwrap();
        assert_eq!(json["name"], prefixed("calc", "add"));
        assert_eq!(json["description"], "sum");
        assert_eq!(json["inputSchema"]["type"], "object");
    }

    #[test]
    fn a_tool_without_a_string_name_is_left_out() {
        assert!(CatalogEntry::listed("p", json!({"description": "x"})).is_none());
        assert!(CatalogEntry::listed("p", json!({"name": 5})).is_none());
        assert!(CatalogEntry::listed("p", json!("name")).is_none());
    }
}
