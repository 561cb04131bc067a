//! pre_mcp_call guardrails end to end: real Envoy with the filter, the sidecar, and the
//! in-repo demo upstream, whose `echo_args` tool returns exactly the arguments it
//! received — so a MASK is proven from the upstream's side, and a BLOCK by the upstream
//! never seeing the call.
// The e2e crate is test code: a failed unwrap, expect or panic is a failed run.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use meshgate_e2e::http::{request, Resp};
use meshgate_e2e::*;
use serde_json::{json, Value};
use std::time::Duration;

const ENTITIES: &[&str] = &[
    "CREDIT_CARD",
    "EMAIL_ADDRESS",
    "PHONE_NUMBER",
    "US_SSN",
    "IBAN_CODE",
    "IP_ADDRESS",
    "AWS_ACCESS_KEY",
    "GITHUB_TOKEN",
    "SLACK_TOKEN",
    "OPENAI_API_KEY",
    "ANTHROPIC_API_KEY",
    "PRIVATE_KEY",
    "JWT",
];

/// One value of each built-in entity, as a whole string.
fn sample(entity: &str) -> String {
    match entity {
        "CREDIT_CARD" => "4111-1111-1111-1111".into(),
        "EMAIL_ADDRESS" => "jane.doe@corp.example.com".into(),
        "PHONE_NUMBER" => "+44 20 7946 0958".into(),
        "US_SSN" => "536-22-1234".into(),
        "IBAN_CODE" => "GB82WEST12345698765432".into(),
        "IP_ADDRESS" => "10.20.30.40".into(),
        "AWS_ACCESS_KEY" => "AKIAIOSFODNN7EXAMPLE".into(),
        "GITHUB_TOKEN" => format!("ghp_{}", "a1B2".repeat(9)),
        "SLACK_TOKEN" => "xoxb-1234567890-0987654321-AbCdEfGhIjKl".into(),
        "OPENAI_API_KEY" => format!("sk-{}", "Ab3dE".repeat(10)),
        "ANTHROPIC_API_KEY" => format!("sk-ant-api03-{}-AA", "Q1w2E3r4".repeat(11)),
        "PRIVATE_KEY" => {
            "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA1234\n-----END RSA PRIVATE KEY-----"
                .into()
        }
        "JWT" => "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c".into(),
        other => panic!("no sample for {other}"),
    }
}

fn guardrails_yaml() -> String {
    let all = |action: &str| {
        ENTITIES
            .iter()
            .map(|e| format!("{e}: {action}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!(
        "guardrails:\n  - guardrail_name: block-all\n    litellm_params: {{guardrail: meshgate, mode: pre_mcp_call, pii_entities_config: {{{}}}}}\n  - guardrail_name: mask-all\n    litellm_params: {{guardrail: meshgate, mode: pre_mcp_call, pii_entities_config: {{{}}}}}\n  - guardrail_name: no-employee-ids\n    litellm_params:\n      guardrail: meshgate\n      mode: pre_call\n      default_on: true\n      patterns: [{{pattern_type: regex, name: EMPLOYEE_ID, pattern: 'EMP-\\d{{6}}', action: BLOCK}}]\n  - guardrail_name: secrets\n    litellm_params: {{guardrail: meshgate, mode: [pre_mcp_call], pii_entities_config: {{AWS_ACCESS_KEY: BLOCK}}}}\n",
        all("BLOCK"),
        all("MASK")
    )
}

async fn start() -> (Gateway, Proc, String) {
    start_on(Database::Sqlite).await
}

async fn start_on(database: Database) -> (Gateway, Proc, String) {
    let (upstream, addr) = demo_http("up", &[]).await;
    let gw = Gateway::start_with(GatewayOptions {
        meshgate_yaml: guardrails_yaml(),
        database,
        ..GatewayOptions::new(format!(
            "  up:\n    url: http://{addr}/mcp\n    transport: http\n"
        ))
    })
    .await;
    (gw, upstream, addr)
}

async fn send(gw: &Gateway, key: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Resp {
    let auth = format!("Bearer {key}");
    let mut all = vec![("x-litellm-api-key", auth.as_str())];
    all.extend_from_slice(headers);
    request("POST", &format!("{}{path}", gw.base()), &all, body)
        .await
        .unwrap_or_else(|e| panic!("POST {path}: {e}"))
}

async fn admin(gw: &Gateway, path: &str, body: Value) -> Resp {
    send(gw, MASTER_KEY, path, &[], &body.to_string()).await
}

/// A `tools/call` of `up-echo_args`; returns the JSON-RPC result.
async fn call(gw: &Gateway, key: &str, headers: &[(&str, &str)], params: Value) -> Value {
    let mut params = params;
    params["name"] = json!("up-echo_args");
    let body = json!({"jsonrpc": "2.0", "id": 11, "method": "tools/call", "params": params});
    let r = send(gw, key, "/mcp", headers, &body.to_string()).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(v["id"], 11, "{v}");
    v.get("result")
        .cloned()
        .unwrap_or_else(|| panic!("no result: {v}"))
}

fn text_of(result: &Value) -> String {
    result["content"][0]["text"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// What the upstream received (its `echo_args` answer), or panics on an error result.
fn received(result: &Value) -> Value {
    assert_ne!(result["isError"], true, "{result}");
    serde_json::from_str(&text_of(result)).unwrap_or_else(|e| panic!("{e}: {result}"))
}

fn blocked_text(entity: &str, guardrail: &str) -> String {
    format!("Error: Blocked PII entity detected - Blocked entity detected: {entity} by Guardrail: {guardrail}. This entity is not allowed to be used in this request.")
}

/// How many `tools/call`s reached the upstream.
async fn upstream_calls(addr: &str) -> usize {
    let r = request("GET", &format!("http://{addr}/__requests"), &[], "")
        .await
        .expect("recorded requests");
    r.json()
        .as_array()
        .map(|a| a.iter().filter(|r| r["rpc_method"] == "tools/call").count())
        .unwrap_or(0)
}

async fn envoy_stats(gw: &Gateway) -> String {
    let url = format!("http://127.0.0.1:{}/stats", gw.admin_port);
    request("GET", &url, &[], "")
        .await
        .expect("envoy admin stats")
        .text()
}

#[tokio::test]
async fn every_builtin_entity_is_blocked_and_masked_in_nested_arguments() {
    let (gw, _up, addr) = start().await;
    for entity in ENTITIES {
        let value = sample(entity);
        let args = json!({"outer": {"list": ["plain", {"deep": value.clone()}]}, "n": 7});
        let before = upstream_calls(&addr).await;
        let result = call(
            &gw,
            MASTER_KEY,
            &[("x-mcp-guardrails", "block-all")],
            json!({"arguments": args.clone()}),
        )
        .await;
        assert_eq!(result["isError"], true, "{entity}: {result}");
        assert_eq!(
            text_of(&result),
            blocked_text(entity, "block-all"),
            "{entity}"
        );
        assert!(
            !result.to_string().contains(&value),
            "{entity}: the value is never echoed"
        );
        assert_eq!(
            upstream_calls(&addr).await,
            before,
            "{entity}: the upstream was contacted"
        );

        let result = call(
            &gw,
            MASTER_KEY,
            &[],
            json!({"arguments": args, "_meta": {"guardrails": ["mask-all"]}}),
        )
        .await;
        let seen = received(&result);
        assert_eq!(
            seen,
            json!({"outer": {"list": ["plain", {"deep": format!("<{entity}>")}]}, "n": 7}),
            "{entity}: what the upstream received"
        );
    }
    // Counted per guardrail, entity, action and server, in Envoy's own stats.
    let stats = envoy_stats(&gw).await;
    for entity in ENTITIES {
        for line in [
            format!("meshgate_guardrail.block.block-all.{entity}.up: 1"),
            format!("meshgate_guardrail.mask.mask-all.{entity}.up: 1"),
        ] {
            assert!(stats.contains(&line), "no `{line}` in\n{stats}");
        }
    }
    // Logged without the value.
    let log = gw.envoy_log();
    assert!(
        log.contains("guardrail block-all blocked CREDIT_CARD at $.outer.list[1].deep"),
        "{log}"
    );
    assert!(
        !log.contains("4111-1111"),
        "a matched value reached the log"
    );
}

/// Key and team guardrails live in the database: the selection runs on both.
#[tokio::test]
async fn keys_teams_requests_and_default_on_select_the_guardrails_sqlite() {
    keys_teams_requests_and_default_on_select_the_guardrails(Database::Sqlite).await
}

#[tokio::test]
async fn keys_teams_requests_and_default_on_select_the_guardrails_postgres() {
    keys_teams_requests_and_default_on_select_the_guardrails(Database::Postgres).await
}

async fn keys_teams_requests_and_default_on_select_the_guardrails(db: Database) {
    let (gw, _up, addr) = start_on(db).await;
    let aws = sample("AWS_ACCESS_KEY");

    // Names the configuration does not have are refused by name.
    let r = admin(
        &gw,
        "/key/generate",
        json!({"guardrails": ["secrets", "nope"]}),
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(
        r.text().contains("nope") && !r.text().contains("secrets,"),
        "{}",
        r.text()
    );
    let r = admin(&gw, "/team/new", json!({"guardrails": ["nada"]})).await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.text().contains("nada"));

    let with = admin(
        &gw,
        "/key/generate",
        json!({"guardrails": ["secrets"], "object_permission": {"mcp_servers": ["up"]}}),
    )
    .await
    .json();
    let (with_key, with_token) = (
        with["key"].as_str().unwrap(),
        with["token"].as_str().unwrap(),
    );
    let without = admin(
        &gw,
        "/key/generate",
        json!({"object_permission": {"mcp_servers": ["up"]}}),
    )
    .await
    .json();
    let without_key = without["key"].as_str().unwrap();
    let team = admin(
        &gw,
        "/team/new",
        json!({"guardrails": ["secrets"], "object_permission": {"mcp_servers": ["up"]}}),
    )
    .await
    .json();
    let team_id = team["team_id"].as_str().unwrap();
    assert_eq!(team["guardrails"], json!(["secrets"]));
    let member = admin(&gw, "/key/generate", json!({"team_id": team_id}))
        .await
        .json();
    let member_key = member["key"].as_str().unwrap();
    let info = request(
        "GET",
        &format!("{}/key/info?key={with_token}", gw.base()),
        &[("x-litellm-api-key", &format!("Bearer {MASTER_KEY}"))],
        "",
    )
    .await
    .unwrap();
    assert_eq!(
        info.json()["info"]["guardrails"],
        json!(["secrets"]),
        "{}",
        info.text()
    );
    let info = request(
        "GET",
        &format!("{}/team/info?team_id={team_id}", gw.base()),
        &[("x-litellm-api-key", &format!("Bearer {MASTER_KEY}"))],
        "",
    )
    .await
    .unwrap();
    assert!(
        info.text().contains("\"guardrails\":[\"secrets\"]"),
        "{}",
        info.text()
    );

    let args = json!({"arguments": {"k": aws}});
    // By key, and by the key's team.
    for key in [with_key, member_key] {
        let result = call(&gw, key, &[], args.clone()).await;
        assert_eq!(text_of(&result), blocked_text("AWS_ACCESS_KEY", "secrets"));
    }
    // A key without it passes: the upstream receives the value.
    let seen = received(&call(&gw, without_key, &[], args.clone()).await);
    assert_eq!(seen["k"], aws.as_str());
    // The request can add it (header or _meta)…
    let result = call(
        &gw,
        without_key,
        &[("x-mcp-guardrails", "secrets")],
        args.clone(),
    )
    .await;
    assert_eq!(text_of(&result), blocked_text("AWS_ACCESS_KEY", "secrets"));
    let result = call(
        &gw,
        without_key,
        &[],
        json!({"arguments": {"k": aws}, "_meta": {"guardrails": ["secrets"]}}),
    )
    .await;
    assert_eq!(result["isError"], true);
    // …but never remove one: default_on applies to every key, whatever the request says.
    let result = call(
        &gw,
        without_key,
        &[("x-mcp-guardrails", "")],
        json!({"arguments": {"id": "EMP-123456"}}),
    )
    .await;
    assert_eq!(
        text_of(&result),
        blocked_text("EMPLOYEE_ID", "no-employee-ids")
    );
    // An unknown requested name: refused, named, the upstream not contacted.
    let before = upstream_calls(&addr).await;
    let result = call(
        &gw,
        without_key,
        &[("x-mcp-guardrails", "secrets,typo")],
        json!({"arguments": {}}),
    )
    .await;
    assert_eq!(result["isError"], true);
    assert!(
        text_of(&result).contains("unknown guardrail(s): typo"),
        "{result}"
    );
    assert_eq!(upstream_calls(&addr).await, before);

    // Removing the key's guardrail lets its calls through again.
    let r = admin(
        &gw,
        "/key/update",
        json!({"key": with_token, "guardrails": null}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let seen = received(&call(&gw, with_key, &[], args.clone()).await);
    assert_eq!(seen["k"], aws.as_str());

    // LiteLLM's REST call: 400 guardrail_violation, naming guardrail and entity only.
    let r = send(
        &gw,
        member_key,
        "/mcp-rest/tools/call",
        &[],
        &json!({"server_id": "up", "name": "echo_args", "arguments": {"k": aws}}).to_string(),
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.text());
    let v = r.json();
    assert_eq!(v["error"], "guardrail_violation");
    assert!(v["message"]
        .as_str()
        .unwrap()
        .contains("AWS_ACCESS_KEY by Guardrail: secrets"));
    assert!(!r.text().contains(&aws));
    // …and a masked REST call reaches the upstream masked.
    let r = send(
        &gw,
        MASTER_KEY,
        "/mcp-rest/tools/call",
        &[("x-mcp-guardrails", "mask-all")],
        &json!({"server_id": "up", "name": "echo_args", "arguments": {"mail": "a.b@corp.example.com"}}).to_string(),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.text().contains("<EMAIL_ADDRESS>"), "{}", r.text());
}

#[tokio::test]
async fn a_batch_with_a_blocked_call_is_answered_whole_without_the_upstream() {
    let (gw, _up, addr) = start().await;
    let before = upstream_calls(&addr).await;
    let batch = json!([
        {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "up-echo_args", "arguments": {"q": "fine"}}},
        {"jsonrpc": "2.0", "id": "two", "method": "tools/call", "params": {"name": "up-echo_args", "arguments": {"id": "EMP-654321"}}},
    ]);
    let r = send(
        &gw,
        MASTER_KEY,
        "/mcp",
        &[("mcp-protocol-version", "2025-03-26")],
        &batch.to_string(),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let answers = r.json();
    assert_eq!(answers[0]["id"], 1);
    assert!(answers[0]["error"]["message"]
        .as_str()
        .unwrap()
        .contains("not run"));
    assert_eq!(answers[1]["id"], "two");
    assert_eq!(answers[1]["result"]["isError"], true);
    assert_eq!(upstream_calls(&addr).await, before);
}

#[tokio::test]
async fn an_unknown_entity_is_refused_at_load_naming_the_field() {
    let dir = TempDir::new("guardrails-bad");
    let document = gateway_document(&GatewayOptions {
        meshgate_yaml: "guardrails:\n  - guardrail_name: typo\n    litellm_params: {guardrail: meshgate, mode: pre_mcp_call, pii_entities_config: {CREDIT_KARD: BLOCK}}\n".into(),
        ..GatewayOptions::new("  up:\n    url: http://127.0.0.1:1/mcp\n    transport: http\n")
    });
    let field = "guardrails[0].litellm_params.pii_entities_config.CREDIT_KARD";
    // The sidecar's check.
    let file = dir.0.join("gateway.yaml");
    std::fs::write(&file, &document).unwrap();
    let out = std::process::Command::new(bin("meshgate-sidecar"))
        .arg("--check-config")
        .arg(&file)
        .env("MESHGATE_SHARED_SECRET", SECRET)
        .env("MESHGATE_MASTER_KEY", MASTER_KEY)
        .output()
        .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.status.success() && said.contains(field), "{said}");
    // Envoy: the filter refuses the document, so the listener never serves.
    let (port, admin_port) = (free_port(), free_port());
    let envoy_file = dir.0.join("envoy.yaml");
    std::fs::write(
        &envoy_file,
        envoy_config(port, admin_port, free_port(), &document),
    )
    .unwrap();
    let log_path = dir.0.join("envoy.log");
    let _envoy = start_envoy(&envoy_file, 1, &log_path);
    let mut log = String::new();
    for _ in 0..100 {
        log = std::fs::read_to_string(&log_path).unwrap_or_default();
        if log.contains(field) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(log.contains(field), "{log}");
    let served = request(
        "POST",
        &format!("http://127.0.0.1:{port}/mcp"),
        &[("authorization", &format!("Bearer {MASTER_KEY}"))],
        r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#,
    )
    .await;
    assert!(
        !matches!(&served, Ok(r) if r.status == 200),
        "{:?}",
        served.map(|r| r.status)
    );
}
