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
