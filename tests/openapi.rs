//! REST APIs from OpenAPI specs (`spec_path`), end to end: real Envoy with the built filter,
//! the sidecar, and the in-repo Petstore v3 server (`meshgate-demo-petstore`), which records
//! every request it gets. An OpenAPI server must behave like a native MCP server through the
//! gateway: listed, prefixed, permitted and called.
// The e2e crate is test code (and the bench/soak drivers): a failed unwrap, expect or
// panic is a failed run, so the lints the workspace denies in product code are allowed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use meshgate_e2e::http::{post, request};
use meshgate_e2e::*;
use rmcp::model::CallToolRequestParams;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::ServiceExt;
use serde_json::{json, Value};

const PETSTORE_SPEC: &str = "swagger-petstore-v3.yaml";

fn key() -> String {
    format!("Bearer {MASTER_KEY}")
}

/// A JSON-RPC request through the gateway with exactly these headers (the caller adds the
/// gateway key).
async fn rpc_with(gw: &Gateway, headers: &[(&str, &str)], body: Value) -> Value {
    let resp = post(&gw.url(), headers, &body.to_string())
        .await
        .expect("request");
    assert_eq!(resp.status, 200, "{}", resp.text());
    resp.json()
}

async fn rpc(gw: &Gateway, body: Value) -> Value {
    let k = key();
    rpc_with(gw, &[("authorization", &k)], body).await
}

fn call_body(name: &str, args: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"name": name, "arguments": args}})
}

async fn call_with(gw: &Gateway, headers: &[(&str, &str)], name: &str, args: Value) -> Value {
    let v = rpc_with(gw, headers, call_body(name, args)).await;
    v.get("result")
        .cloned()
        .unwrap_or_else(|| panic!("no result: {v}"))
}

async fn call(gw: &Gateway, name: &str, args: Value) -> Value {
    let k = key();
    call_with(gw, &[("authorization", &k)], name, args).await
}

async fn list(gw: &Gateway) -> Vec<Value> {
    let v = rpc(
        gw,
        json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}),
    )
    .await;
    v["result"]["tools"]
        .as_array()
        .unwrap_or_else(|| panic!("no tools: {v}"))
        .clone()
}

fn names(tools: &[Value]) -> Vec<String> {
    tools
        .iter()
        .filter_map(|t| t["name"].as_str().map(str::to_string))
        .collect()
}

fn tool<'a>(tools: &'a [Value], name: &str) -> &'a Value {
    tools
        .iter()
        .find(|t| t["name"] == name)
        .unwrap_or_else(|| panic!("{name} missing from {:?}", names(tools)))
}

fn text_of(result: &Value) -> String {
    result["content"][0]["text"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

fn is_error(result: &Value) -> bool {
    result["isError"] == true
}

/// Every request the petstore server at `addr` received so far.
async fn recorded(addr: &str) -> Vec<Value> {
    request("GET", &format!("http://{addr}/__recorded"), &[], "")
        .await
        .expect("recorder")
        .json()
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// Requests under the REST API (not the spec downloads).
async fn api_calls(addr: &str) -> Vec<Value> {
    recorded(addr)
        .await
        .into_iter()
        .filter(|r| r["path"].as_str().is_some_and(|p| p.starts_with("/api/")))
        .collect()
}

async fn last_api_call(addr: &str) -> Value {
    api_calls(addr)
        .await
        .pop()
        .expect("the REST API was called")
}

fn spec_file() -> String {
    shared_openapi().join(PETSTORE_SPEC).display().to_string()
}

/// `petstore`: the spec from a file; `other`: the same spec fetched from a second petstore
/// server's `/spec/` URL. Each calls its own server.
fn two_servers(a: &str, b: &str, petstore_extra: &str) -> String {
    format!(
        "  petstore:\n    spec_path: \"{}\"\n    url: http://{a}/api/v3\n{petstore_extra}  other:\n    spec_path: http://{b}/spec/{PETSTORE_SPEC}\n    url: http://{b}/api/v3\n",
        spec_file()
    )
}

#[tokio::test]
async fn openapi_servers_from_a_file_and_a_url_are_listed_with_real_schemas() {
    let (_a, a) = demo_petstore("petstore_a").await;
    let (_b, b) = demo_petstore("petstore_b").await;
    let gw = Gateway::start(two_servers(&a, &b, "")).await;

    // LiteLLM's names (lowercased operationIds) by default; tests/openapi_names.rs covers
    // the naming rules and calls by either spelling.
    let tools = list(&gw).await;
    let all = names(&tools);
    for expected in [
        "petstore-getpetbyid",
        "petstore-addpet",
        "petstore-findpetsbystatus",
        "petstore-deletepet",
        "other-getpetbyid",
        "other-loginuser",
    ] {
        assert!(
            all.contains(&expected.to_string()),
            "{expected} missing from {all:?}"
        );
    }
    assert_eq!(
        all.iter().filter(|n| n.starts_with("petstore-")).count(),
        all.iter().filter(|n| n.starts_with("other-")).count(),
        "both servers serve the same spec: {all:?}"
    );
    // Real JSON Schemas survive the trip: formats, enums, defaults, output schemas, hints.
    let get = tool(&tools, "petstore-getpetbyid");
    assert_eq!(
        get["inputSchema"]["properties"]["path"]["properties"]["petId"],
        json!({"description": "ID of pet to return", "type": "integer", "format": "int64"})
    );
    assert_eq!(get["inputSchema"]["required"], json!(["path"]));
    assert_eq!(
        get["outputSchema"]["properties"]["status"]["enum"],
        json!(["available", "pending", "sold"])
    );
    assert_eq!(get["annotations"]["readOnlyHint"], true);
    assert_eq!(get["title"], "Find pet by ID.");
    let find = tool(&tools, "other-findpetsbystatus");
    let status = &find["inputSchema"]["properties"]["query"]["properties"]["status"];
    assert_eq!(status["enum"], json!(["available", "pending", "sold"]));
    assert_eq!(status["default"], "available");
    let delete = tool(&tools, "petstore-deletepet");
    assert_eq!(delete["annotations"]["destructiveHint"], true);
    assert_eq!(
        delete["inputSchema"]["properties"]["header"]["properties"]["api_key"]["type"],
        "string"
    );

    // `other` fetched its spec from B, without the gateway key or any credential.
    let fetched: Vec<Value> = recorded(&b)
        .await
        .into_iter()
        .filter(|r| r["path"] == format!("/spec/{PETSTORE_SPEC}"))
        .collect();
    assert_eq!(fetched.len(), 1, "the spec is fetched once: {fetched:?}");
    assert_eq!(fetched[0]["method"], "GET");
    let text = fetched[0].to_string();
    assert!(!text.contains(MASTER_KEY) && !text.contains("authorization"));
    // Listing does not call the APIs.
    assert!(api_calls(&a).await.is_empty() && api_calls(&b).await.is_empty());
}

#[tokio::test]
async fn openapi_calls_reach_the_rest_api_and_come_back_as_tool_results() {
    let (_a, a) = demo_petstore("petstore_a").await;
    let (_b, b) = demo_petstore("petstore_b").await;
    let gw = Gateway::start(two_servers(&a, &b, "")).await;

    // GET with a path parameter: JSON → text + structuredContent.
    let r = call(&gw, "petstore-getPetById", json!({"path": {"petId": 1}})).await;
    assert!(!is_error(&r), "{r}");
    let body: Value = serde_json::from_str(&text_of(&r)).expect("JSON text");
    assert_eq!(body["name"], "doggie");
    assert_eq!(r["structuredContent"]["name"], "doggie");
    assert_eq!(r["structuredContent"]["id"], 1);
    let seen = last_api_call(&a).await;
    assert_eq!(
        (seen["method"].as_str(), seen["path"].as_str()),
        (Some("GET"), Some("/api/v3/pet/1"))
    );
    assert!(seen["headers"]["accept"]
        .as_str()
        .unwrap_or_default()
        .contains("application/json"));
    assert!(
        api_calls(&b).await.is_empty(),
        "the call reached only its own server"
    );

    // POST with a JSON body.
    let pet = json!({"id": 42, "name": "nemo", "photoUrls": ["https://example.invalid/n.png"], "status": "pending", "tags": [{"id": 1, "name": "fish"}]});
    let r = call(&gw, "petstore-addPet", json!({"body": pet})).await;
    assert!(!is_error(&r), "{r}");
    assert_eq!(r["structuredContent"]["name"], "nemo");
    let seen = last_api_call(&a).await;
    assert_eq!(
        (seen["method"].as_str(), seen["path"].as_str()),
        (Some("POST"), Some("/api/v3/pet"))
    );
    assert_eq!(seen["headers"]["content-type"], "application/json");
    let sent: Value = serde_json::from_str(seen["body"].as_str().unwrap()).expect("JSON body");
    assert_eq!(sent, pet);
    let r = call(&gw, "petstore-getPetById", json!({"path": {"petId": 42}})).await;
    assert_eq!(r["structuredContent"]["status"], "pending");

    // Query parameters; an array response is text only (no structuredContent).
    let r = call(
        &gw,
        "petstore-findPetsByStatus",
        json!({"query": {"status": "sold"}}),
    )
    .await;
    assert!(!is_error(&r), "{r}");
    let pets: Value = serde_json::from_str(&text_of(&r)).unwrap();
    assert_eq!(pets[0]["name"], "tom");
    assert!(r.get("structuredContent").is_none(), "{r}");
    let seen = last_api_call(&a).await;
    assert_eq!(seen["path"], "/api/v3/pet/findByStatus");
    assert_eq!(seen["query"], "status=sold");

    // DELETE with its `api_key` header parameter.
    let r = call(
        &gw,
        "petstore-deletePet",
        json!({"path": {"petId": 2}, "header": {"api_key": "special-key"}}),
    )
    .await;
    assert!(!is_error(&r), "{r}");
    let seen = last_api_call(&a).await;
    assert_eq!(
        (seen["method"].as_str(), seen["path"].as_str()),
        (Some("DELETE"), Some("/api/v3/pet/2"))
    );
    assert_eq!(seen["headers"]["api_key"], "special-key");
    // The server refuses `api_key: invalid`: the header really is what it acts on.
    let r = call(
        &gw,
        "petstore-deletePet",
        json!({"path": {"petId": 3}, "header": {"api_key": "invalid"}}),
    )
    .await;
    assert!(is_error(&r));
    assert_eq!(
        text_of(&r),
        r#"HTTP 400: {"code":400,"message":"Invalid api_key"}"#
    );

    // A missing pet: isError with the status and the body.
    let r = call(&gw, "petstore-getPetById", json!({"path": {"petId": 2}})).await;
    assert!(is_error(&r), "{r}");
    assert_eq!(
        text_of(&r),
        r#"HTTP 404: {"code":404,"message":"Pet not found"}"#
    );

    // Arguments that would escape the path, or are missing, are refused without contacting
    // the API, with a text naming the parameter.
    let before = recorded(&a).await.len();
    let r = call(
        &gw,
        "petstore-getPetById",
        json!({"path": {"petId": "../x"}}),
    )
    .await;
    assert!(is_error(&r), "{r}");
    assert!(
        text_of(&r).starts_with("Error: tool 'petstore-getPetById': invalid argument `path.petId`"),
        "{r}"
    );
    let r = call(&gw, "petstore-getPetById", json!({})).await;
    assert!(is_error(&r), "{r}");
    assert!(text_of(&r).contains("path"), "{r}");
    let r = call(
        &gw,
        "petstore-getPetById",
        json!({"path": {"petId": 1}, "nope": 1}),
    )
    .await;
    assert!(is_error(&r), "{r}");
    assert!(text_of(&r).contains("nope"), "{r}");
    assert_eq!(
        recorded(&a).await.len(),
        before,
        "the API was contacted for refused arguments"
    );
    // An unknown operation is not found, like any unknown tool.
    let r = call(&gw, "petstore-noSuchOperation", json!({})).await;
    assert!(is_error(&r));
    assert_eq!(
        text_of(&r),
        "Error: Tool 'petstore-noSuchOperation' not found"
    );

    // The server loaded from a URL calls its own API.
    let r = call(&gw, "other-getPetById", json!({"path": {"petId": 3}})).await;
    assert_eq!(r["structuredContent"]["name"], "tom", "{r}");
    assert_eq!(last_api_call(&b).await["path"], "/api/v3/pet/3");
}

#[tokio::test]
async fn openapi_credentials_and_client_headers_reach_only_their_server() {
    let (_a, a) = demo_petstore("petstore_a").await;
    let (_b, b) = demo_petstore("petstore_b").await;
    let petstore_extra = "    auth_type: bearer_token\n    auth_value: pet-token\n    static_headers:\n      X-Static: always\n    extra_headers: [\"X-Tenant\"]\n";
    // `fwd` (on B's API too) forwards the client's own Authorization.
    // `keyed` (on B's API too) has an `api_key` credential, sent as LiteLLM's OpenAPI
    // path sends it.
    let servers = format!(
        "{}  fwd:\n    spec_path: \"{}\"\n    url: http://{b}/api/v3\n    extra_headers: [\"Authorization\"]\n  keyed:\n    spec_path: \"{}\"\n    url: http://{b}/api/v3\n    auth_type: api_key\n    auth_value: rest-key\n",
        two_servers(&a, &b, petstore_extra),
        spec_file(),
        spec_file()
    );
    let gw = Gateway::start(servers).await;
    let k = key();
    // The gateway key in x-litellm-api-key; `Authorization` is then the client's own, which
    // is not forwarded unless configured.
    let base: Vec<(&str, &str)> = vec![
        ("x-litellm-api-key", &k),
        ("authorization", "Bearer client-own-token"),
        ("X-Tenant", "tenant-1"),
        ("x-unlisted", "never-forwarded"),
        ("x-mcp-petstore-x-static", "client-tries-to-replace"),
    ];

    // Configured credential, static header, forwarded extra header.
    let r = call_with(
        &gw,
        &base,
        "petstore-getPetById",
        json!({"path": {"petId": 1}}),
    )
    .await;
    assert!(!is_error(&r), "{r}");
    let h = last_api_call(&a).await["headers"].clone();
    assert_eq!(h["authorization"], "Bearer pet-token");
    assert_eq!(h["x-static"], "always", "static_headers win");
    assert_eq!(h["x-tenant"], "tenant-1");
    assert!(h.get("x-unlisted").is_none(), "{h}");

    // x-mcp-petstore-authorization replaces the configured credential, for petstore only.
    let mut with_override = base.clone();
    with_override.push(("x-mcp-petstore-authorization", "Bearer per-request"));
    with_override.push(("x-mcp-petstore-x-trace", "t-9"));
    let r = call_with(
        &gw,
        &with_override,
        "petstore-getPetById",
        json!({"path": {"petId": 1}}),
    )
    .await;
    assert!(!is_error(&r), "{r}");
    let h = last_api_call(&a).await["headers"].clone();
    assert_eq!(h["authorization"], "Bearer per-request");
    assert_eq!(h["x-trace"], "t-9");
    assert!(
        !h.as_object()
            .unwrap()
            .keys()
            .any(|k| k.starts_with("x-mcp-")),
        "{h}"
    );

    // The same request to `other`: none of petstore's headers, no client Authorization.
    let r = call_with(
        &gw,
        &with_override,
        "other-getPetById",
        json!({"path": {"petId": 1}}),
    )
    .await;
    assert!(!is_error(&r), "{r}");
    let h = last_api_call(&b).await["headers"].clone();
    for absent in ["authorization", "x-static", "x-tenant", "x-trace"] {
        assert!(h.get(absent).is_none(), "{absent} reached `other`: {h}");
    }

    // `extra_headers: [Authorization]` forwards the client's own Authorization…
    let r = call_with(
        &gw,
        &with_override,
        "fwd-getPetById",
        json!({"path": {"petId": 1}}),
    )
    .await;
    assert!(!is_error(&r), "{r}");
    let h = last_api_call(&b).await["headers"].clone();
    assert_eq!(h["authorization"], "Bearer client-own-token");
    // …but never the gateway key, when that is what Authorization carried.
    let r = call(&gw, "fwd-getPetById", json!({"path": {"petId": 2}})).await;
    assert!(!is_error(&r), "{r}");
    let seen = last_api_call(&b).await;
    assert_eq!(seen["path"], "/api/v3/pet/2");
    assert!(seen["headers"].get("authorization").is_none(), "{seen}");

    // `api_key` on an OpenAPI server: `Authorization: ApiKey <v>`, as LiteLLM sends it.
    let r = call(&gw, "keyed-getPetById", json!({"path": {"petId": 2}})).await;
    assert!(!is_error(&r), "{r}");
    let seen = last_api_call(&b).await;
    assert_eq!(
        seen["headers"]["authorization"], "ApiKey rest-key",
        "{seen}"
    );
    assert!(seen["headers"].get("x-api-key").is_none(), "{seen}");

    // The gateway key and the filter's headers reach neither server.
    for addr in [&a, &b] {
        let all = Value::Array(recorded(addr).await).to_string();
        assert!(!all.contains(MASTER_KEY), "gateway key leaked to {addr}");
        assert!(!all.contains("x-litellm-api-key"), "{all}");
        assert!(
            !all.contains("x-meshgate"),
            "internal headers leaked: {all}"
        );
        assert!(!all.contains("client-tries-to-replace"), "{all}");
    }
    let all_a = Value::Array(recorded(&a).await).to_string();
    assert!(!all_a.contains("client-own-token"), "{all_a}");
}

#[tokio::test]
async fn openapi_server_whose_spec_does_not_load_is_left_out_and_says_why() {
    let (_a, a) = demo_petstore("petstore_a").await;
    let dir = TempDir::new("openapi-bad");
    let no_servers = dir.0.join("no-servers.json");
    std::fs::write(
        &no_servers,
        r#"{"openapi":"3.0.3","info":{"title":"t","version":"1"},"paths":{"/a":{"get":{"operationId":"ping","responses":{"200":{"description":"ok"}}}}}}"#,
    )
    .unwrap();
    let not_a_spec = dir.0.join("not-a-spec.yaml");
    std::fs::write(&not_a_spec, "hello: world\n").unwrap();
    let servers = format!(
        "  petstore:\n    spec_path: \"{spec}\"\n    url: http://{a}/api/v3\n  missing:\n    spec_path: \"{missing}\"\n    url: http://{a}/api/v3\n  nobase:\n    spec_path: \"{nobase}\"\n  notspec:\n    spec_path: \"{notspec}\"\n    url: http://{a}/api/v3\n  gone:\n    spec_path: \"http://{a}/spec/nope.yaml?token=secret-in-url\"\n    url: http://{a}/api/v3\n",
        spec = spec_file(),
        missing = dir.0.join("nope.yaml").display(),
        nobase = no_servers.display(),
        notspec = not_a_spec.display(),
    );
    let gw = Gateway::start(servers).await;

    let all = names(&list(&gw).await);
    assert!(all.contains(&"petstore-getpetbyid".to_string()), "{all:?}");
    for broken in ["missing-", "nobase-", "notspec-", "gone-"] {
        assert!(
            !all.iter().any(|n| n.starts_with(broken)),
            "{broken} listed: {all:?}"
        );
    }
    // The others work.
    let r = call(&gw, "petstore-getPetById", json!({"path": {"petId": 1}})).await;
    assert_eq!(r["structuredContent"]["name"], "doggie", "{r}");

    // Calling a broken server says which server and why (never the spec's URL or path).
    let r = call(&gw, "missing-getPetById", json!({"path": {"petId": 1}})).await;
    assert!(is_error(&r));
    let t = text_of(&r);
    assert!(
        t.contains("`missing`") && t.contains("cannot open the file") && !t.contains("nope.yaml"),
        "names the server and the reason, not the spec's path: {t}"
    );
    let r = call(&gw, "nobase-ping", json!({})).await;
    assert!(is_error(&r));
    assert!(
        text_of(&r).contains("no base URL") && text_of(&r).contains("set `url`"),
        "{r}"
    );
    let r = call(&gw, "notspec-anything", json!({})).await;
    assert!(is_error(&r));
    assert!(text_of(&r).contains("not an OpenAPI document"), "{r}");
    let r = call(&gw, "gone-getPetById", json!({})).await;
    assert!(is_error(&r));
    let t = text_of(&r);
    assert!(
        t.contains("HTTP 404") && !t.contains("/spec/nope.yaml") && !t.contains("127.0.0.1"),
        "the reason without the spec URL's host or path: {t}"
    );
    assert!(
        !t.contains("secret-in-url"),
        "a credential in the spec URL leaked: {t}"
    );
}

#[tokio::test]
async fn openapi_tools_aggregate_next_to_mcp_tools_and_follow_scoping() {
    let (_a, a) = demo_petstore("petstore_a").await;
    let servers = format!(
        "{}  petstore:\n    spec_path: \"{}\"\n    url: http://{a}/api/v3\n",
        demo_stdio_yaml("local", ""),
        spec_file()
    );
    let gw = Gateway::start(servers).await;

    // A real MCP client sees both kinds of tools and calls both.
    let config = StreamableHttpClientTransportConfig::with_uri(gw.url()).auth_header(MASTER_KEY);
    let client =
        ().serve(StreamableHttpClientTransport::from_config(config))
            .await
            .expect("connect through envoy");
    let tools = client.list_all_tools().await.expect("tools/list");
    let listed: Vec<String> = tools.iter().map(|t| t.name.to_string()).collect();
    for expected in ["local-echo", "petstore-getpetbyid", "petstore-addpet"] {
        assert!(
            listed.contains(&expected.to_string()),
            "{expected} missing from {listed:?}"
        );
    }
    let get = tools
        .iter()
        .find(|t| t.name == "petstore-getpetbyid")
        .unwrap();
    assert!(get.output_schema.is_some());
    let r = client
        .call_tool(
            CallToolRequestParams::new("petstore-getPetById")
                .with_arguments(json!({"path": {"petId": 3}}).as_object().cloned().unwrap()),
        )
        .await
        .expect("call");
    assert_eq!(
        r.structured_content.as_ref().map(|s| s["name"].clone()),
        Some(json!("tom"))
    );
    let r = client
        .call_tool(
            CallToolRequestParams::new("local-echo")
                .with_arguments(json!({"text": "mcp"}).as_object().cloned().unwrap()),
        )
        .await
        .expect("call");
    assert_eq!(r.content[0].as_text().map(|t| t.text.as_str()), Some("mcp"));
    // A bare name resolves when only one server has it.
    let r = call(&gw, "getPetById", json!({"path": {"petId": 1}})).await;
    assert_eq!(r["structuredContent"]["name"], "doggie", "{r}");
    client.cancel().await.expect("close");

    // Narrowing applies as to any server: by header…
    let k = key();
    let r = call_with(
        &gw,
        &[("authorization", &k), ("x-mcp-servers", "local")],
        "petstore-getPetById",
        json!({"path": {"petId": 1}}),
    )
    .await;
    assert!(is_error(&r), "{r}");
    assert!(text_of(&r).contains("not allowed"), "{r}");
    // …and by path.
    let resp = post(
        &format!("{}/petstore/mcp", gw.base()),
        &[("authorization", &k)],
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#,
    )
    .await
    .unwrap();
    let only = names(resp.json()["result"]["tools"].as_array().unwrap());
    assert!(
        !only.is_empty() && only.iter().all(|n| n.starts_with("petstore-")),
        "{only:?}"
    );
}

#[tokio::test]
async fn openapi_server_tool_rules_and_allowed_params_apply_before_the_api_is_called() {
    let (_api, addr) = demo_petstore("petstore").await;
    let servers = format!(
        "  petstore:\n    spec_path: \"{}\"\n    url: http://{addr}/api/v3\n    allowed_tools: [getPetById, petstore-FINDPETSBYSTATUS, addPet]\n    disallowed_tools: [addPet]\n    allowed_params:\n      findPetsByStatus: [query]\n",
        spec_file()
    );
    let gw = Gateway::start(servers).await;
    let mut listed = names(&list(&gw).await);
    listed.sort();
    assert_eq!(listed, ["petstore-findpetsbystatus", "petstore-getpetbyid"]);
    let r = call(
        &gw,
        "petstore-addPet",
        json!({"body": {"name": "x", "photoUrls": []}}),
    )
    .await;
    assert!(is_error(&r) && text_of(&r).contains("not allowed"), "{r}");
    let r = call(&gw, "petstore-deletePet", json!({"path": {"petId": 1}})).await;
    assert!(is_error(&r) && text_of(&r).contains("not allowed"), "{r}");
    let r = call(
        &gw,
        "petstore-findPetsByStatus",
        json!({"query": {"status": "sold"}, "header": {"x": "1"}}),
    )
    .await;
    assert!(
        is_error(&r) && text_of(&r).contains("parameters [header] are not allowed"),
        "{r}"
    );
    assert!(
        api_calls(&addr).await.is_empty(),
        "refused calls never reach the API"
    );
    let r = call(
        &gw,
        "petstore-findPetsByStatus",
        json!({"query": {"status": "sold"}}),
    )
    .await;
    assert!(!is_error(&r), "{r}");
    assert_eq!(api_calls(&addr).await.len(), 1);
}
