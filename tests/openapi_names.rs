//! OpenAPI tool names as LiteLLM gives them (the default), exact names as an option, calls
//! by either spelling, and a real-world-shaped spec (huge numbers, one operation that cannot
//! be converted) served whole: real Envoy, the sidecar and the in-repo Petstore server.
// The e2e crate is test code (and the bench/soak drivers): a failed unwrap, expect or
// panic is a failed run, so the lints the workspace denies in product code are allowed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use meshgate_e2e::http::post;
use meshgate_e2e::*;
use serde_json::{json, Value};

const PETSTORE_SPEC: &str = "swagger-petstore-v3.yaml";

/// Two operations of the Petstore API without `operationId` (LiteLLM names them from
/// method and path), numbers no 64-bit type holds, and one operation whose path template
/// never closes its `{` (left out; the rest is served).
const SYNTH_SPEC: &str = r##"{"openapi":"3.1.0","info":{"title":"synth","version":"1"},"paths":{
  "/pet/{petId}":{"get":{"parameters":[{"name":"petId","in":"path","required":true,
      "schema":{"type":"integer","minimum":-9223372036854775809,"maximum":18446744073709551616}}],
    "responses":{"200":{"description":"ok","content":{"application/json":{"schema":{"$ref":"#/components/schemas/Pet"}}}}}}},
  "/store/inventory":{"get":{"responses":{"200":{"description":"ok"}}}},
  "/broken/{id":{"get":{"operationId":"broken","responses":{"200":{"description":"ok"}}}}},
 "components":{"schemas":{"Pet":{"type":"object","properties":{
   "id":{"type":"integer","maximum":100000000000000000000000000000},"name":{"type":"string"}}}}}}"##;

fn key() -> String {
    format!("Bearer {MASTER_KEY}")
}

async fn rpc_text(gw: &Gateway, body: Value) -> String {
    let k = key();
    let resp = post(&gw.url(), &[("authorization", &k)], &body.to_string())
        .await
        .expect("request");
    assert_eq!(resp.status, 200, "{}", resp.text());
    resp.text()
}

/// tools/list: the names, and the raw JSON text (numbers as the gateway wrote them).
async fn list(gw: &Gateway) -> (Vec<String>, String) {
    let text = rpc_text(
        gw,
        json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}),
    )
    .await;
    let v: Value = serde_json::from_str(&text).expect("JSON");
    let names = v["result"]["tools"]
        .as_array()
        .unwrap_or_else(|| panic!("no tools: {v}"))
        .iter()
        .filter_map(|t| t["name"].as_str().map(str::to_string))
        .collect();
    (names, text)
}

async fn call(gw: &Gateway, name: &str, args: Value) -> Value {
    let text = rpc_text(
        gw,
        json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"name": name, "arguments": args}}),
    )
    .await;
    let v: Value = serde_json::from_str(&text).expect("JSON");
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

async fn last_api_path(addr: &str) -> String {
    let resp = meshgate_e2e::http::request("GET", &format!("http://{addr}/__recorded"), &[], "")
        .await
        .expect("recorded");
    resp.json()
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter_map(|r| r["path"].as_str().map(str::to_string))
        .rfind(|p| p.starts_with("/api/"))
        .expect("the REST API was called")
}

/// `petstore`: the Petstore spec (allowed_tools in LiteLLM's spelling); `synth`: the spec
/// above; both call the demo Petstore server at `addr`.
fn servers(addr: &str, dir: &TempDir) -> String {
    let synth = dir.0.join("synth.json");
    std::fs::write(&synth, SYNTH_SPEC).expect("write spec");
    format!(
        "  petstore:\n    spec_path: \"{}\"\n    url: http://{addr}/api/v3\n    allowed_tools: [getpetbyid, petstore-findpetsbystatus]\n  synth:\n    spec_path: \"{}\"\n    url: http://{addr}/api/v3\n",
        shared_openapi().join(PETSTORE_SPEC).display(),
        synth.display()
    )
}

#[tokio::test]
async fn litellm_names_by_default_and_calls_by_either_spelling() {
    let (_p, addr) = demo_petstore("petstore_names").await;
    let dir = TempDir::new("openapi-names");
    let gw = Gateway::start(servers(&addr, &dir)).await;

    let (mut names, raw) = list(&gw).await;
    names.sort();
    // LiteLLM's names: lowercased operationIds, `{method}_{path}` without one; the
    // allow-list written in those names keeps exactly its two tools. The unconvertible
    // operation is left out, the rest of its spec is served.
    assert_eq!(
        names,
        [
            "petstore-findpetsbystatus",
            "petstore-getpetbyid",
            "synth-get__pet__petid_",
            "synth-get__store_inventory",
        ]
    );
    // Numbers beyond 64 bits reach the client exactly as the spec wrote them.
    for exact in [
        r#""maximum":18446744073709551616"#,
        r#""minimum":-9223372036854775809"#,
        r#""maximum":100000000000000000000000000000"#,
    ] {
        assert!(raw.contains(exact), "{exact} missing from {raw}");
    }

    // The LiteLLM name and the exact one reach the same operation.
    for (name, id) in [("petstore-getpetbyid", 1), ("petstore-getPetById", 2)] {
        let r = call(&gw, name, json!({"path": {"petId": id}})).await;
        assert_eq!(r["isError"], false, "{name}: {r}");
        assert_eq!(r["structuredContent"]["id"], id, "{name}: {r}");
        assert_eq!(last_api_path(&addr).await, format!("/api/v3/pet/{id}"));
    }
    for (name, id) in [("synth-get__pet__petid_", 3), ("synth-get_pet_petId", 1)] {
        let r = call(&gw, name, json!({"path": {"petId": id}})).await;
        assert_eq!(r["isError"], false, "{name}: {r}");
        assert_eq!(last_api_path(&addr).await, format!("/api/v3/pet/{id}"));
    }
    // Not on the allow-list in any spelling.
    for name in ["petstore-addpet", "petstore-addPet"] {
        let r = call(&gw, name, json!({"body": {"name": "x", "photoUrls": []}})).await;
        assert_eq!(r["isError"], true, "{name}: {r}");
        assert!(text_of(&r).contains("not allowed"), "{name}: {r}");
    }
}

#[tokio::test]
async fn exact_option_lists_exact_names_and_litellm_names_still_call() {
    let (_p, addr) = demo_petstore("petstore_exact").await;
    let dir = TempDir::new("openapi-exact");
    let gw = Gateway::start_with(GatewayOptions {
        meshgate_yaml: "  openapi_tool_names: exact\n".into(),
        ..GatewayOptions::new(servers(&addr, &dir))
    })
    .await;

    let (mut names, _) = list(&gw).await;
    names.sort();
    assert_eq!(
        names,
        [
            "petstore-findPetsByStatus",
            "petstore-getPetById",
            "synth-get_pet_petId",
            "synth-get_store_inventory",
        ]
    );
    for (name, id) in [("petstore-getPetById", 1), ("petstore-getpetbyid", 2)] {
        let r = call(&gw, name, json!({"path": {"petId": id}})).await;
        assert_eq!(r["isError"], false, "{name}: {r}");
        assert_eq!(r["structuredContent"]["id"], id, "{name}: {r}");
        assert_eq!(last_api_path(&addr).await, format!("/api/v3/pet/{id}"));
    }
    let r = call(&gw, "synth-get__pet__petid_", json!({"path": {"petId": 3}})).await;
    assert_eq!(r["isError"], false, "{r}");
    assert_eq!(last_api_path(&addr).await, "/api/v3/pet/3");
}

#[tokio::test]
async fn rules_written_in_one_spelling_hold_for_the_other() {
    let (_p, addr) = demo_petstore("petstore_rules").await;
    let dir = TempDir::new("openapi-rules");
    let synth = dir.0.join("synth.json");
    std::fs::write(&synth, SYNTH_SPEC).expect("write spec");
    // allowed_params keyed by the exact spelling of a path-derived name, and a deny entry
    // in the exact spelling of the other path-derived name.
    let servers = format!(
        "  synth:\n    spec_path: \"{}\"\n    url: http://{addr}/api/v3\n    allowed_params:\n      get_pet_petId: [query]\n    disallowed_tools: [synth-get_store_inventory]\n",
        synth.display()
    );
    let gw = Gateway::start(servers).await;
    let (names, _) = list(&gw).await;
    assert_eq!(
        names,
        ["synth-get__pet__petid_"],
        "denied in either spelling"
    );
    for name in ["synth-get__pet__petid_", "synth-get_pet_petId"] {
        let r = call(&gw, name, json!({"path": {"petId": 1}})).await;
        assert_eq!(r["isError"], true, "{name}: {r}");
        assert!(
            text_of(&r).contains("parameters [path] are not allowed"),
            "{name}: {r}"
        );
    }
    for name in ["synth-get__store_inventory", "synth-get_store_inventory"] {
        let r = call(&gw, name, json!({})).await;
        assert_eq!(r["isError"], true, "{name}: {r}");
    }
}
