use meshgate_store::{McpServerPatch, NewMcpServer};
use serde_json::json;

use crate::harness::Harness;
use crate::{assert_conflict, assert_invalid, assert_not_found};

fn server(name: &str, alias: Option<&str>) -> NewMcpServer {
    NewMcpServer {
        server_name: name.into(),
        alias: alias.map(str::to_owned),
        ..Default::default()
    }
}

pub async fn mcp_server_crud(h: Harness) {
    let s = &h.store;
    let config = json!({
        "url": "https://example.com/mcp", "transport": "http",
        "allowed_tools": ["search"], "access_groups": ["dev"]
    });
    let gh = s
        .create_mcp_server(NewMcpServer {
            server_id: Some("gh-1".into()),
            server_name: "github".into(),
            alias: Some("gh".into()),
            description: Some("GitHub\nissues".into()),
            config: config.as_object().unwrap().clone(),
        })
        .await
        .unwrap();
    assert_eq!(gh.server_id, "gh-1");
    assert_eq!(serde_json::Value::Object(gh.config.clone()), config);
    assert_eq!(s.get_mcp_server("gh-1").await.unwrap(), gh);
    assert_eq!(s.find_mcp_server("GitHub").await.unwrap(), gh);
    assert_eq!(s.find_mcp_server("GH").await.unwrap(), gh);
    assert_not_found(s.find_mcp_server("gitlab").await, "mcp_server");

    let zap = s
        .create_mcp_server(
            serde_json::from_value(json!({"server_name": "Zapier", "config": {"url": "u"}}))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(zap.server_id.len(), 36);
    let a = s
        .create_mcp_server(server("atlassian", None))
        .await
        .unwrap();
    assert_eq!(
        s.list_mcp_servers().await.unwrap(),
        vec![a.clone(), gh.clone(), zap.clone()]
    );

    // Patch: absent unchanged, null clears, config replaced whole.
    let patch: McpServerPatch = serde_json::from_value(json!({
        "server_name": "github_v2", "alias": null, "config": {"url": "https://new"}
    }))
    .unwrap();
    let updated = s.update_mcp_server("gh-1", patch).await.unwrap();
    assert_eq!(updated.server_name, "github_v2");
    assert_eq!(updated.alias, None);
    assert_eq!(updated.description, gh.description);
    assert_eq!(
        serde_json::Value::Object(updated.config.clone()),
        json!({"url": "https://new"})
    );
    assert_eq!(updated.created_at, gh.created_at);
    assert_eq!(s.get_mcp_server("gh-1").await.unwrap(), updated);
    // The freed alias and old name are available again.
    s.create_mcp_server(server("github", Some("gh")))
        .await
        .unwrap();

    assert_eq!(s.delete_mcp_server("gh-1").await.unwrap(), updated);
    assert_not_found(s.get_mcp_server("gh-1").await, "mcp_server");
    assert_not_found(s.delete_mcp_server("gh-1").await, "mcp_server");
    assert_not_found(
        s.update_mcp_server("gh-1", McpServerPatch::default()).await,
        "mcp_server",
    );
    assert_eq!(s.list_mcp_servers().await.unwrap().len(), 3);
}

pub async fn mcp_server_names_are_unique(h: Harness) {
    let s = &h.store;
    let gh = s
        .create_mcp_server(server("github", Some("gh")))
        .await
        .unwrap();
    let msg = assert_conflict(s.create_mcp_server(server("GitHub", None)).await);
    assert!(
        msg.contains("server_name") && msg.contains("github"),
        "{msg}"
    );
    // Names and aliases share one namespace.
    assert_conflict(s.create_mcp_server(server("GH", None)).await);
    assert_conflict(s.create_mcp_server(server("other", Some("github"))).await);
    assert_conflict(s.create_mcp_server(server("other", Some("Gh"))).await);
    assert_conflict(
        s.create_mcp_server(NewMcpServer {
            server_id: Some(gh.server_id.clone()),
            ..server("fresh", None)
        })
        .await,
    );
    let other = s.create_mcp_server(server("other", None)).await.unwrap();
    assert_conflict(
        s.update_mcp_server(
            &other.server_id,
            McpServerPatch {
                alias: Some(Some("GITHUB".into())),
                ..Default::default()
            },
        )
        .await,
    );
    // A server may keep (or re-case) its own name.
    let renamed = s
        .update_mcp_server(
            &gh.server_id,
            McpServerPatch {
                server_name: Some("GitHub".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(renamed.server_name, "GitHub");
    assert_eq!(s.list_mcp_servers().await.unwrap().len(), 2);
}

pub async fn invalid_mcp_server_input_names_the_field(h: Harness) {
    let s = &h.store;
    assert_invalid(s.create_mcp_server(server("", None)).await, "server_name");
    assert_invalid(
        s.create_mcp_server(server("my-server", None)).await,
        "server_name",
    );
    assert_invalid(
        s.create_mcp_server(server("a b", None)).await,
        "server_name",
    );
    assert_invalid(
        s.create_mcp_server(server(&"x".repeat(65), None)).await,
        "server_name",
    );
    assert_invalid(
        s.create_mcp_server(server("ok", Some("a-b"))).await,
        "alias",
    );
    assert_invalid(
        s.create_mcp_server(NewMcpServer {
            server_id: Some(String::new()),
            ..server("ok", None)
        })
        .await,
        "server_id",
    );
    assert_invalid(
        s.create_mcp_server(NewMcpServer {
            description: Some("bad\u{1b}[31m".into()),
            ..server("ok", None)
        })
        .await,
        "description",
    );
    let ok = s.create_mcp_server(server("ok", None)).await.unwrap();
    assert_invalid(
        s.update_mcp_server(
            &ok.server_id,
            McpServerPatch {
                server_name: Some("not-ok".into()),
                ..Default::default()
            },
        )
        .await,
        "server_name",
    );
    assert!(serde_json::from_value::<NewMcpServer>(json!({"config": {}})).is_err());
    assert_eq!(s.list_mcp_servers().await.unwrap(), vec![ok]);
    assert_eq!(s.revision().await.unwrap(), 1);
}

/// Server configs (their credentials) are sealed under the operator's key: the raw column
/// holds none of the secrets; a row written before encryption is read and sealed when the
/// store opens with a key; a new key with the old one as previous re-seals everything;
/// a store opened without the right key refuses to start, naming what to set. SQLite
/// files are the owner's only.
pub async fn credentials_are_sealed_at_rest_and_keys_rotate(h: Harness) {
    use meshgate_store::{OpenOptions, StoreKeys};
    use std::sync::Arc;
    let keys = |current: &str, previous: &[&str]| OpenOptions {
        keys: Some(Arc::new(StoreKeys::new(current, previous))),
        ..OpenOptions::default()
    };
    // Written before encryption (no key): plain, as before.
    let legacy = h
        .store
        .create_mcp_server(NewMcpServer {
            server_id: Some("legacy".into()),
            server_name: "legacy".into(),
            config: json!({"url": "https://a/mcp", "auth_value": "plain-legacy-secret"})
                .as_object()
                .unwrap()
                .clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(h
        .raw_rows("mcp_servers")
        .await
        .join("\n")
        .contains("plain-legacy-secret"));

    let first = h
        .reopen_with(keys("first key material 0123456789", &[]))
        .await
        .unwrap();
    let raw = h.raw_rows("mcp_servers").await.join("\n");
    assert!(
        !raw.contains("plain-legacy-secret"),
        "re-sealed on open: {raw}"
    );
    assert_eq!(
        first.get_mcp_server("legacy").await.unwrap().config,
        legacy.config
    );

    let secrets = [
        "sealed-auth-value",
        "sealed-static-header",
        "sealed-env-value",
        "sealed-client-secret",
        "sealed-url-token",
    ];
    let config = json!({
        "url": "https://b/mcp?token=sealed-url-token", "transport": "http",
        "auth_type": "bearer_token", "auth_value": "sealed-auth-value",
        "static_headers": {"X-Key": "sealed-static-header"},
        "env": {"TOKEN": "sealed-env-value"}, "client_secret": "sealed-client-secret",
    });
    let created = first
        .create_mcp_server(NewMcpServer {
            server_id: Some("new".into()),
            server_name: "new".into(),
            config: config.as_object().unwrap().clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(serde_json::Value::Object(created.config.clone()), config);
    first
        .update_mcp_server(
            "new",
            McpServerPatch {
                description: Some(Some("updated".into())),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let raw = h.raw_rows("mcp_servers").await.join("\n");
    for s in secrets {
        assert!(!raw.contains(s), "{s} stored in the clear: {raw}");
        if let Some(found) = h.files_contain(s) {
            assert!(!found, "{s} is in the SQLite files");
        }
    }
    assert!(raw.contains("mg1:"), "{raw}");
    let snapshot = first.snapshot().await.unwrap();
    assert_eq!(
        snapshot
            .mcp_servers
            .iter()
            .find(|s| s.server_id == "new")
            .unwrap()
            .config,
        created.config
    );
    first.close().await;

    // Rotation: the new key reads the old rows and re-seals them.
    let old_raw = h.raw_rows("mcp_servers").await.join("\n");
    let second = h
        .reopen_with(keys(
            "second key material 0123456789",
            &["first key material 0123456789"],
        ))
        .await
        .unwrap();
    assert_eq!(
        second.get_mcp_server("new").await.unwrap().config,
        created.config
    );
    let new_raw = h.raw_rows("mcp_servers").await.join("\n");
    assert_ne!(old_raw, new_raw, "re-sealed under the new key");
    second.close().await;
    let only_second = h
        .reopen_with(keys("second key material 0123456789", &[]))
        .await
        .unwrap();
    assert_eq!(
        only_second.get_mcp_server("legacy").await.unwrap().config,
        legacy.config
    );
    only_second.close().await;

    // The wrong key: refused at open, naming what to set.
    let e = h
        .reopen_with(keys("some other key material 012345", &[]))
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("MESHGATE_STORE_KEY_PREVIOUS"), "{e}");
    assert!(!e.contains("second key material"), "{e}");

    #[cfg(unix)]
    if let Some(dir) = h.sqlite_dir() {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(dir), 0o700, "data directory");
        let mut seen = 0;
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            assert_eq!(mode(&entry.path()), 0o600, "{}", entry.path().display());
            seen += 1;
        }
        assert!(seen >= 1);
    }
}
