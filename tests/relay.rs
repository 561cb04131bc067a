//! Traffic against the request direction, through Envoy: server→client requests
//! (sampling, elicitation) relayed to the client whose call caused them and answered
//! back, progress tokens mapped both ways, cancellation, upstreams opened with the
//! client's capabilities, list_changed / resource updates / logs on the GET stream.
// The e2e crate is test code (and the bench/soak drivers): a failed unwrap, expect or
// panic is a failed run, so the lints the workspace denies in product code are allowed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use meshgate_e2e::mcp::{Events, RawMcp};
use meshgate_e2e::*;
use serde_json::{json, Value};
use std::time::Duration;

fn all_caps() -> Value {
    json!({"sampling": {}, "elicitation": {}, "roots": {"listChanged": true}})
}

async fn tool_names(mcp: &RawMcp) -> Vec<String> {
    let r = mcp.call("tools/list", json!({})).await;
    r["result"]["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .filter_map(|t| t["name"].as_str().map(str::to_string))
        .collect()
}

/// Reads messages until the response: answers `roots/list` (server-everything asks
/// for roots whenever it likes), returns the other messages and the response.
async fn until_response(mcp: &RawMcp, events: &mut Events) -> (Vec<Value>, Value) {
    let mut others = Vec::new();
    loop {
        let m = events
            .next()
            .await
            .expect("stream ended before the response");
        if m["method"] == "roots/list" {
            let roots = json!({"roots": [{"uri": "file:///tmp/meshgate-test", "name": "test"}]});
            assert_eq!(mcp.answer(&m["id"], roots).await, 202);
        } else if m.get("method").is_some() {
            others.push(m);
        } else {
            return (others, m);
        }
    }
}

fn result_text(response: &Value) -> String {
    response["result"]["content"]
        .as_array()
        .map(|c| {
            c.iter()
                .filter_map(|i| i["text"].as_str())
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default()
}

/// Calls a tool that asks the client something; answers the relayed request with
/// `answer` and returns (the relayed request, the final response).
async fn call_answering(
    mcp: &RawMcp,
    id: i64,
    tool: &str,
    args: Value,
    answer: Value,
) -> (Value, Value) {
    let mut events = mcp
        .start(
            json!(id),
            "tools/call",
            json!({"name": tool, "arguments": args}),
        )
        .await;
    assert!(
        events.content_type.starts_with("text/event-stream"),
        "a relayed request needs a stream, got {}",
        events.content_type
    );
    let mut asked = events.next().await.expect("the relayed request");
    while asked["method"] == "roots/list" || asked.get("id").is_none() {
        if asked["method"] == "roots/list" {
            let roots = json!({"roots": []});
            assert_eq!(mcp.answer(&asked["id"], roots).await, 202);
        }
        asked = events.next().await.expect("the relayed request");
    }
    let relayed_id = asked["id"].clone();
    assert!(
        relayed_id.as_str().is_some_and(|s| s.starts_with("mg-")),
        "the gateway uses its own ids: {asked}"
    );
    assert_eq!(mcp.answer(&relayed_id, answer).await, 202);
    let (_, response) = until_response(mcp, &mut events).await;
    assert_eq!(response["id"], json!(id));
    (asked, response)
}

#[tokio::test]
async fn sampling_elicitation_progress_and_cancellation_through_the_gateway() {
    let (_ev, port) = everything_http("streamableHttp").await;
    let servers = format!(
        "{}  ehttp:\n    url: http://127.0.0.1:{port}/mcp\n    transport: http\n",
        everything_stdio_yaml("estdio")
    );
    let gw = Gateway::start(servers).await;
    let capable = RawMcp::connect(&gw.url(), MASTER_KEY, all_caps()).await;
    let plain = RawMcp::connect(&gw.url(), MASTER_KEY, json!({})).await;

    // server-everything offers its sampling tool only to clients that can sample: the
    // upstream session was opened with this client's capabilities.
    let capable_tools = tool_names(&capable).await;
    let plain_tools = tool_names(&plain).await;
    for prefix in ["estdio", "ehttp"] {
        let sampling = format!("{prefix}-trigger-sampling-request");
        assert!(
            capable_tools.contains(&sampling),
            "{sampling} missing: {capable_tools:?}"
        );
        assert!(
            !plain_tools.contains(&sampling),
            "{sampling} offered to a client without sampling"
        );
        assert!(plain_tools.contains(&format!("{prefix}-echo")));
    }

    for (n, prefix) in ["estdio", "ehttp"].into_iter().enumerate() {
        let base = 100 * (n as i64 + 1);
        // Sampling: relayed to this client, its answer returned upstream.
        let (asked, response) = call_answering(
            &capable,
            base,
            &format!("{prefix}-trigger-sampling-request"),
            json!({"prompt": "say hi", "maxTokens": 20}),
            json!({"model": "scripted-model", "role": "assistant", "content": {"type": "text", "text": "sampled by the test client"}}),
        )
        .await;
        assert_eq!(asked["method"], "sampling/createMessage", "{asked}");
        assert!(asked["params"]["messages"][0]["content"]["text"]
            .as_str()
            .unwrap_or("")
            .contains("say hi"));
        let text = result_text(&response);
        assert!(
            text.contains("sampled by the test client") && text.contains("scripted-model"),
            "{prefix}: {response}"
        );

        // Elicitation in the middle of a stream: nothing on the path may buffer it.
        let (asked, response) = call_answering(
            &capable,
            base + 1,
            &format!("{prefix}-trigger-elicitation-request"),
            json!({}),
            json!({"action": "decline"}),
        )
        .await;
        assert_eq!(asked["method"], "elicitation/create", "{asked}");
        assert!(
            result_text(&response).contains("declined"),
            "{prefix}: {response}"
        );

        // Progress: the client's own token comes back, in order.
        let mut events = capable
            .start(
                json!(base + 2),
                "tools/call",
                json!({"name": format!("{prefix}-trigger-long-running-operation"),
                       "arguments": {"duration": 0.3, "steps": 3},
                       "_meta": {"progressToken": format!("client-token-{prefix}")}}),
            )
            .await;
        let (notes, response) = until_response(&capable, &mut events).await;
        let mut progress = Vec::new();
        for m in notes
            .iter()
            .filter(|m| m["method"] == "notifications/progress")
        {
            assert_eq!(
                m["params"]["progressToken"],
                json!(format!("client-token-{prefix}"))
            );
            progress.push(m["params"]["progress"].as_f64().unwrap_or(-1.0));
        }
        assert_eq!(progress, vec![1.0, 2.0, 3.0], "{prefix}");
        assert!(result_text(&response).contains("completed"), "{response}");

        // Cancellation reaches the upstream request; the call ends without its result.
        // (The reply's headers may only come with the result, so cancel meanwhile.)
        let id = base + 3;
        let cancel_later = async {
            tokio::time::sleep(Duration::from_millis(500)).await;
            let cancel = json!({"requestId": id, "reason": "test changed its mind"});
            capable
                .notify("notifications/cancelled", Some(cancel))
                .await
        };
        let (mut events, cancelled) = tokio::join!(
            capable.start(
                json!(id),
                "tools/call",
                json!({"name": format!("{prefix}-trigger-long-running-operation"),
                       "arguments": {"duration": 30, "steps": 2}}),
            ),
            cancel_later
        );
        assert_eq!(cancelled, 202);
        let (_, response) = until_response(&capable, &mut events).await;
        let text = result_text(&response);
        assert!(text.contains("cancelled"), "{prefix}: {response}");
        assert!(!text.contains("completed"), "{prefix}: {response}");
    }

    // A client that cannot sample is never asked: the tool is not even offered, and
    // calling it by name gets a clear isError.
    let r = plain
        .call(
            "tools/call",
            json!({"name": "ehttp-trigger-sampling-request", "arguments": {"prompt": "x"}}),
        )
        .await;
    assert_eq!(r["result"]["isError"], true, "{r}");
}

#[tokio::test]
async fn list_changes_resource_updates_and_logs_reach_the_get_stream() {
    let (_ev, port) = everything_http("streamableHttp").await;
    let servers = format!(
        "{}  ehttp:\n    url: http://127.0.0.1:{port}/mcp\n    transport: http\n",
        demo_stdio_yaml("local", "")
    );
    let gw = Gateway::start(servers).await;
    // `twin` shares the upstream sessions of `client` (same credentials, same
    // capabilities); `other` declares more, so its upstream sessions are its own.
    let client = RawMcp::connect(&gw.url(), MASTER_KEY, json!({})).await;
    let twin = RawMcp::connect(&gw.url(), MASTER_KEY, json!({})).await;
    let other = RawMcp::connect(&gw.url(), MASTER_KEY, json!({"roots": {}})).await;
    let mut stream = client.listen().await;
    let mut twin_stream = twin.listen().await;
    let mut other_stream = other.listen().await;
    for mcp in [&client, &twin, &other] {
        assert!(!tool_names(mcp).await.contains(&"local-grown".to_string()));
    }

    // list_changed: relayed to the sessions behind that upstream session, and the
    // cached tool list is dropped.
    let r = client
        .call("tools/call", json!({"name": "local-grow", "arguments": {}}))
        .await;
    assert_eq!(result_text(&r), "grown");
    for s in [&mut stream, &mut twin_stream] {
        let m = s.next().await.expect("a notification");
        assert_eq!(m["method"], "notifications/tools/list_changed", "{m}");
    }
    assert!(tool_names(&twin).await.contains(&"local-grown".to_string()));
    assert!(!tool_names(&other)
        .await
        .contains(&"local-grown".to_string()));

    // Subscriptions: updates come with the URI as the client subscribed to it, and
    // only to the subscriber.
    let listed = client.call("resources/list", json!({})).await;
    let uri = listed["result"]["resources"]
        .as_array()
        .and_then(|r| {
            r.iter().find_map(|r| {
                r["uri"]
                    .as_str()
                    .filter(|u| u.starts_with("meshgate://ehttp/"))
            })
        })
        .expect("an ehttp resource")
        .to_string();
    let r = client
        .call("resources/subscribe", json!({"uri": uri}))
        .await;
    assert_eq!(r["result"], json!({}), "{r}");
    let r = client
        .call("logging/setLevel", json!({"level": "debug"}))
        .await;
    assert!(r.get("result").is_some(), "{r}");
    for tool in [
        "ehttp-toggle-subscriber-updates",
        "ehttp-toggle-simulated-logging",
    ] {
        let r = client
            .call("tools/call", json!({"name": tool, "arguments": {}}))
            .await;
        assert!(result_text(&r).starts_with("Started"), "{r}");
    }
    let (mut updated, mut logged) = (false, false);
    while !(updated && logged) {
        let m = stream.next().await.expect("a notification");
        match m["method"].as_str() {
            Some("notifications/resources/updated") => {
                assert_eq!(m["params"]["uri"], json!(uri), "{m}");
                updated = true;
            }
            Some("notifications/message") => {
                assert!(m["params"]["level"].is_string(), "{m}");
                logged = true;
            }
            _ => {}
        }
    }
    let r = client
        .call("resources/unsubscribe", json!({"uri": uri}))
        .await;
    assert_eq!(r["result"], json!({}), "{r}");
    // Nothing of this reached the session behind other upstream sessions (its own
    // upstream session asks it for its roots and logs about them).
    while let Some(Some(m)) = other_stream.next_within(Duration::from_millis(200)).await {
        let own_log = m["method"] == "notifications/message"
            && m["params"]["data"]
                .as_str()
                .is_some_and(|d| d.contains("Roots"));
        let own_roots_request = m["method"] == "roots/list";
        assert!(
            own_log || own_roots_request,
            "unexpected on another session's stream: {m}"
        );
    }
}

#[tokio::test]
async fn roots_changes_reach_the_upstream_and_its_roots_request_reaches_the_client() {
    let (_ev, port) = everything_http("streamableHttp").await;
    let servers = format!("  ehttp:\n    url: http://127.0.0.1:{port}/mcp\n    transport: http\n");
    let gw = Gateway::start(servers).await;
    let client = RawMcp::connect(
        &gw.url(),
        MASTER_KEY,
        json!({"roots": {"listChanged": true}}),
    )
    .await;
    let mut stream = client.listen().await;
    assert!(tool_names(&client)
        .await
        .contains(&"ehttp-get-roots-list".to_string()));

    // The client's roots change: the upstream hears of it and asks for them again, on
    // no particular request — the ask reaches this client's GET stream.
    assert_eq!(
        client
            .notify("notifications/roots/list_changed", None)
            .await,
        202
    );
    let asked = loop {
        let m = stream.next().await.expect("the upstream's roots/list");
        if m["method"] == "roots/list" {
            break m;
        }
    };
    assert!(
        asked["id"].as_str().is_some_and(|id| id.starts_with("mg-")),
        "{asked}"
    );
    let roots = json!({"roots": [{"uri": "file:///tmp/meshgate-roots-test", "name": "test"}]});
    assert_eq!(client.answer(&asked["id"], roots).await, 202);

    // The upstream now knows them.
    let mut seen = String::new();
    for _ in 0..50 {
        let r = client
            .call(
                "tools/call",
                json!({"name": "ehttp-get-roots-list", "arguments": {}}),
            )
            .await;
        seen = result_text(&r);
        if seen.contains("file:///tmp/meshgate-roots-test") {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the upstream never got the roots: {seen}");
}
