//! OAuth 2.0 client credentials to an upstream (issue 16, `auth_type: oauth2`), end to
//! end: a real authorization server (oidc-provider from npm) issues short-lived opaque
//! tokens; an MCP server in front of the demo server accepts only those
//! (tests/node/oauth_server.mjs); the gateway (real Envoy, the built filter, the sidecar)
//! fetches, caches, renews and retries tokens by itself.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Stdio;
use std::time::Duration;

use meshgate_e2e::http::request;
use meshgate_e2e::mcp::RawMcp;
use meshgate_e2e::*;
use serde_json::{json, Value};
use tokio::process::Command;

/// Token lifetime the authorization server gives (seconds): renewed after half of it.
const LIFETIME: u64 = 2;

struct Secured {
    _proc: Proc,
    /// The authorization server's address.
    issuer: String,
    /// The token-checking MCP server's address.
    mcp: String,
}

async fn secured_server(upstream: &str) -> Secured {
    let script = repo_root().join("tests/node/oauth_server.mjs");
    require(
        &node_modules().join("oidc-provider"),
        "run scripts/setup-test-deps.sh",
    );
    let mut cmd = Command::new("node");
    cmd.arg(script)
        .arg(format!("http://{upstream}/mcp"))
        .arg(LIFETIME.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut proc = Proc::spawn("oauth-server", cmd);
    let line = read_listening(&mut proc).await;
    let (issuer, mcp) = line.split_once(' ').expect("two addresses");
    Secured {
        issuer: issuer.to_string(),
        mcp: mcp.to_string(),
        _proc: proc,
    }
}

impl Secured {
    async fn stats(&self) -> Value {
        request("GET", &format!("http://{}/__stats", self.mcp), &[], "")
            .await
            .unwrap()
            .json()
    }

    async fn control(&self, path: &str) {
        let r = request("POST", &format!("http://{}{path}", self.mcp), &[], "")
            .await
            .unwrap();
        assert_eq!(r.status, 200, "{path}");
    }
}

async fn echo(mcp: &RawMcp, tool: &str, text: &str) -> Value {
    mcp.call(
        "tools/call",
        json!({"name": tool, "arguments": {"text": text}}),
    )
    .await
}

fn echoed(reply: &Value) -> &str {
    reply["result"]["content"][0]["text"].as_str().unwrap_or("")
}

#[tokio::test]
async fn client_credentials_are_fetched_cached_renewed_and_retried_on_401() {
    let (_demo, demo) = demo_http("demo", &[]).await;
    let secured = secured_server(&demo).await;
    // `posted`: token_url given, client_secret_post (LiteLLM's way). `found`: no
    // token_url; the endpoint and the client authentication (client_secret_basic) are
    // discovered from the server's RFC 9728 metadata and the issuer's metadata. `plain`:
    // the demo server directly, to show a failing token endpoint touches no other server.
    let servers = format!(
        "  posted:\n    url: http://{mcp}/mcp\n    transport: http\n    auth_type: oauth2\n    client_id: meshgate-post\n    client_secret: os.environ/POSTED_SECRET\n    token_url: http://{issuer}/token\n    scopes: [tools]\n\
         \x20 found:\n    url: http://{mcp}/mcp\n    transport: http\n    auth_type: oauth2\n    client_id: meshgate-basic\n    client_secret: basic-secret-0042\n\
         \x20 plain:\n    url: http://{demo}/mcp\n    transport: http\n",
        mcp = secured.mcp,
        issuer = secured.issuer,
    );
    let mut opts = GatewayOptions::new(servers);
    opts.sidecar_env
        .push(("POSTED_SECRET".into(), "post-secret-0042".into()));
    opts.sidecar_log = true;
    let gw = Gateway::start_with(opts).await;
    let mcp = RawMcp::connect(&gw.url(), MASTER_KEY, json!({})).await;

    // Both servers list and call with their own tokens.
    let listed = mcp.call("tools/list", json!({})).await;
    let names: Vec<&str> = listed["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert!(
        names.contains(&"posted-echo") && names.contains(&"found-echo"),
        "{listed}"
    );
    assert_eq!(echoed(&echo(&mcp, "posted-echo", "one").await), "one");
    assert_eq!(echoed(&echo(&mcp, "found-echo", "two").await), "two");
    let stats = secured.stats().await;
    assert_eq!(
        stats["rejected"], 0,
        "every request carried a valid token: {stats}"
    );
    assert_eq!(
        stats["token_requests"], 2,
        "one token per server, cached: {stats}"
    );

    // Many calls at once within the token's life: no new token.
    let calls = (0..10).map(|i| echo(&mcp, "posted-echo", if i % 2 == 0 { "a" } else { "b" }));
    for reply in futures_util::future::join_all(calls).await {
        assert!(matches!(echoed(&reply), "a" | "b"), "{reply}");
    }
    assert_eq!(secured.stats().await["token_requests"], 2);

    // Past half its life the token is renewed before it is sent.
    tokio::time::sleep(Duration::from_millis(LIFETIME * 1000 / 2 + 300)).await;
    assert_eq!(echoed(&echo(&mcp, "posted-echo", "three").await), "three");
    let stats = secured.stats().await;
    assert_eq!(stats["token_requests"], 3, "{stats}");
    assert_eq!(stats["rejected"], 0, "renewed before it lapsed: {stats}");

    // The server stops accepting the tokens it saw (revoked): each server's next
    // calls, even ten at once, get one 401, one new token, and one retry.
    secured.control("/__revoke").await;
    let calls = (0..10).map(|_| echo(&mcp, "posted-echo", "again"));
    for reply in futures_util::future::join_all(calls).await {
        assert_eq!(echoed(&reply), "again", "{reply}");
    }
    let stats = secured.stats().await;
    assert_eq!(
        stats["token_requests"], 4,
        "one refresh for ten refused calls: {stats}"
    );
    assert!(stats["rejected"].as_u64().unwrap() >= 1, "{stats}");

    // The token endpoint fails: the server's calls fail clearly, other servers do not.
    secured.control("/__token_endpoint/down").await;
    secured.control("/__revoke").await;
    let failed = echo(&mcp, "posted-echo", "four").await;
    let text = failed.to_string();
    assert!(
        text.contains("posted") && text.contains("no OAuth access token") && text.contains("503"),
        "{failed}"
    );
    assert_eq!(echoed(&echo(&mcp, "plain-echo", "five").await), "five");
    // It recovers when the endpoint does.
    secured.control("/__token_endpoint/up").await;
    assert_eq!(echoed(&echo(&mcp, "posted-echo", "six").await), "six");

    // Secrets and tokens never reach the log or a client.
    let log = gw.sidecar_log();
    for secret in ["post-secret-0042", "basic-secret-0042"] {
        assert!(!log.contains(secret), "the log holds a client secret");
        assert!(!text.contains(secret));
    }
    let servers = request(
        "GET",
        &format!("{}/v1/mcp/server", gw.base()),
        &[("authorization", &format!("Bearer {MASTER_KEY}"))],
        "",
    )
    .await
    .unwrap();
    assert!(
        !servers.text().contains("secret-0042"),
        "{}",
        servers.text()
    );
}

#[tokio::test]
async fn a_clients_own_credential_for_the_server_wins_over_the_gateways_token() {
    let (_demo, demo) = demo_http("demo", &[]).await;
    let secured = secured_server(&demo).await;
    let servers = format!(
        "  posted:\n    url: http://{mcp}/mcp\n    transport: http\n    auth_type: oauth2\n    client_id: meshgate-post\n    client_secret: post-secret-0042\n    token_url: http://{issuer}/token\n",
        mcp = secured.mcp,
        issuer = secured.issuer,
    );
    let gw = Gateway::start(servers).await;
    // LiteLLM's per-server header: the client's own token goes to the server as it is,
    // and a 401 for it is the client's (no gateway token is swapped in).
    let key = format!("Bearer {MASTER_KEY}");
    let headers = [
        ("authorization", key.as_str()),
        ("x-mcp-posted-authorization", "Bearer the-clients-own"),
        ("accept", "application/json, text/event-stream"),
        ("content-type", "application/json"),
    ];
    let reply = request(
        "POST",
        &gw.url(),
        &headers,
        &json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
            "params": {"name": "posted-echo", "arguments": {"text": "x"}}})
        .to_string(),
    )
    .await
    .unwrap();
    assert!(
        !reply.text().contains("\"text\":\"x\""),
        "the call must not succeed with the gateway's token: {}",
        reply.text()
    );
    let stats = secured.stats().await;
    let seen: Vec<&str> = stats["seen"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(seen.contains(&"Bearer the-c"), "{stats}");
    assert_eq!(stats["token_requests"], 0, "{stats}");
}
