//! End to end: load the Petstore v3 spec with `meshgate-openapi`, build requests for its
//! tools, send them to the demo server, convert the responses, and check both the results and
//! what the server recorded.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};

use base64::Engine as _;
use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use meshgate_openapi::{response_to_result, ApiSpec, CallError, PreparedRequest};
use serde_json::{json, Map, Value};

fn shared() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/openapi")
}

struct Server {
    child: Child,
    addr: String,
}

impl Server {
    fn start() -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_meshgate-demo-petstore"))
            .args([
                "--listen",
                "127.0.0.1:0",
                "--max-lifetime-secs",
                "120",
                "--spec-dir",
            ])
            .arg(shared())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr = line
            .trim()
            .strip_prefix("LISTENING ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_string();
        Server { child, addr }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        drop(self.child.stdin.take()); // EOF on stdin: the server exits by itself
        let _ = self.child.wait();
    }
}

type HttpClient = Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>;

async fn send(client: &HttpClient, req: &PreparedRequest) -> (u16, Option<String>, Vec<u8>) {
    let mut b = hyper::Request::builder()
        .method(req.method.clone())
        .uri(&req.url);
    for (k, v) in &req.headers {
        b = b.header(k, v);
    }
    let body = Full::new(Bytes::from(req.body.clone().unwrap_or_default()));
    let resp = client.request(b.body(body).unwrap()).await.unwrap();
    let status = resp.status().as_u16();
    let ct = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string());
    let bytes = resp
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .to_vec();
    (status, ct, bytes)
}

fn args(v: Value) -> Map<String, Value> {
    v.as_object().unwrap().clone()
}

struct Ctx {
    spec: ApiSpec,
    client: HttpClient,
    base: String,
    server: Server,
}

impl Ctx {
    /// Build, send and convert one call; returns the CallToolResult and the recorded request.
    async fn call(&self, tool: &str, a: Value) -> (Value, Value) {
        let req = self.spec.build_request(tool, &args(a), &self.base).unwrap();
        let (status, ct, body) = send(&self.client, &req).await;
        let result = response_to_result(status, ct.as_deref(), &body);
        let recorded = self.recorded().await;
        (
            result,
            recorded.as_array().unwrap().last().cloned().unwrap(),
        )
    }

    async fn recorded(&self) -> Value {
        let url = format!("http://{}/__recorded", self.server.addr);
        let req = hyper::Request::get(url)
            .body(Full::new(Bytes::new()))
            .unwrap();
        let resp = self.client.request(req).await.unwrap();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        serde_json::from_slice(&bytes).unwrap()
    }
}

fn text(result: &Value) -> &str {
    result["content"][0]["text"].as_str().unwrap()
}

#[tokio::test]
async fn petstore_tools_against_demo_server() {
    let server = Server::start();
    let client: HttpClient = Client::builder(TokioExecutor::new()).build_http();

    // The spec is loaded from the server, as the gateway does for a spec URL.
    let spec_url = format!("http://{}/spec/swagger-petstore-v3.yaml", server.addr);
    let req = hyper::Request::get(&spec_url)
        .body(Full::new(Bytes::new()))
        .unwrap();
    let resp = client.request(req).await.unwrap();
    assert_eq!(resp.status(), 200);
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    let spec = ApiSpec::parse(&bytes, &spec_url).unwrap();
    assert_eq!(spec.tools().len(), 19);
    assert_eq!(
        spec.default_base_url(Some(&spec_url)).as_deref(),
        Some("https://petstore3.swagger.io/api/v3")
    );
    let base = format!("http://{}/api/v3/", server.addr);
    let ctx = Ctx {
        spec,
        client,
        base,
        server,
    };

    // GET with a path parameter; JSON object → structuredContent.
    let (r, rec) = ctx.call("getPetById", json!({"path": {"petId": 1}})).await;
    assert_eq!(r["isError"], false);
    assert_eq!(r["structuredContent"]["name"], "doggie");
    assert_eq!(rec["method"], "GET");
    assert_eq!(rec["path"], "/api/v3/pet/1");
    assert_eq!(rec["headers"]["accept"], "application/json");

    // Unknown pet → 404 → isError with the JSON error body.
    let (r, _) = ctx
        .call("getPetById", json!({"path": {"petId": 999}}))
        .await;
    assert_eq!(r["isError"], true);
    assert_eq!(
        text(&r),
        r#"HTTP 404: {"code":404,"message":"Pet not found"}"#
    );

    // A path value with a space is percent-encoded (the server rejects it as an id).
    let (r, rec) = ctx
        .call("getPetById", json!({"path": {"petId": "1 2"}}))
        .await;
    assert_eq!(rec["path"], "/api/v3/pet/1%202");
    assert_eq!(r["isError"], true);

    // A path value that would escape the path is refused before any request.
    let err = ctx
        .spec
        .build_request(
            "getPetById",
            &args(json!({"path": {"petId": ".."}})),
            &ctx.base,
        )
        .unwrap_err();
    assert!(matches!(err, CallError::InvalidArgument { ref param, .. } if param == "path.petId"));

    // Query array, form/explode=true → repeated keys. Array result → no structuredContent.
    let (r, rec) = ctx
        .call(
            "findPetsByTags",
            json!({"query": {"tags": ["friendly", "large"]}}),
        )
        .await;
    assert_eq!(rec["query"], "tags=friendly&tags=large");
    let pets: Value = serde_json::from_str(text(&r)).unwrap();
    assert_eq!(pets.as_array().unwrap().len(), 3);
    assert!(r.get("structuredContent").is_none());

    let (r, rec) = ctx
        .call("findPetsByStatus", json!({"query": {"status": "sold"}}))
        .await;
    assert_eq!(rec["query"], "status=sold");
    assert_eq!(
        serde_json::from_str::<Value>(text(&r)).unwrap()[0]["name"],
        "tom"
    );

    // JSON body.
    let new_pet = json!({"id": 10, "name": "new pet", "photoUrls": [], "status": "pending",
                         "tags": [{"id": 0, "name": "x y"}]});
    let (r, rec) = ctx.call("addPet", json!({"body": new_pet})).await;
    assert_eq!(r["structuredContent"]["name"], "new pet");
    assert_eq!(rec["method"], "POST");
    assert_eq!(rec["headers"]["content-type"], "application/json");
    assert_eq!(
        serde_json::from_str::<Value>(rec["body"].as_str().unwrap()).unwrap(),
        new_pet
    );

    let (r, rec) = ctx
        .call(
            "updatePet",
            json!({"body": {"id": 2, "name": "rex II", "photoUrls": []}}),
        )
        .await;
    assert_eq!(rec["method"], "PUT");
    assert_eq!(r["structuredContent"]["name"], "rex II");

    // Query parameters with reserved characters; "" is sent, not skipped.
    let (r, rec) = ctx
        .call(
            "updatePetWithForm",
            json!({"path": {"petId": 2}, "query": {"name": "a b&c=d", "status": ""}}),
        )
        .await;
    assert_eq!(rec["query"], "name=a%20b%26c%3Dd&status=");
    assert_eq!(r["structuredContent"]["name"], "a b&c=d");

    // Header parameter (the server refuses `api_key: invalid`).
    let (r, rec) = ctx
        .call(
            "deletePet",
            json!({"path": {"petId": 3}, "header": {"api_key": "invalid"}}),
        )
        .await;
    assert_eq!(rec["headers"]["api_key"], "invalid");
    assert_eq!(
        text(&r),
        r#"HTTP 400: {"code":400,"message":"Invalid api_key"}"#
    );
    let (r, rec) = ctx
        .call(
            "deletePet",
            json!({"path": {"petId": 3}, "header": {"api_key": "k-123"}}),
        )
        .await;
    assert_eq!(rec["method"], "DELETE");
    assert_eq!(rec["headers"]["api_key"], "k-123");
    assert_eq!(r["isError"], false);
    let (r, _) = ctx.call("getPetById", json!({"path": {"petId": 3}})).await;
    assert_eq!(r["isError"], true);

    // Binary body (base64 in the arguments, raw bytes on the wire).
    let raw = b"\x89PNG\r\n\x1a\n\x00\xff";
    let b64 = base64::engine::general_purpose::STANDARD.encode(raw);
    let (r, rec) = ctx
        .call(
            "uploadFile",
            json!({"path": {"petId": 1}, "query": {"additionalMetadata": "meta"}, "body": b64}),
        )
        .await;
    assert_eq!(rec["headers"]["content-type"], "application/octet-stream");
    assert_eq!(rec["query"], "additionalMetadata=meta");
    assert_eq!(rec["body_encoding"], "base64");
    assert_eq!(rec["body"], b64);
    assert_eq!(r["structuredContent"]["code"], 200);

    let (r, rec) = ctx.call("getInventory", json!({})).await;
    assert_eq!(rec["path"], "/api/v3/store/inventory");
    assert_eq!(r["structuredContent"]["available"], 1);
    assert_eq!(r["structuredContent"]["pending"], 1); // pet 10 (pet 2 lost its status)

    // Non-ASCII and reserved characters in the query; a JSON string result.
    let (r, rec) = ctx
        .call(
            "loginUser",
            json!({"query": {"username": "ü ser", "password": "p@ss/1"}}),
        )
        .await;
    assert_eq!(rec["query"], "username=%C3%BC%20ser&password=p%40ss%2F1");
    assert_eq!(text(&r), r#""logged in user session: ü ser""#);
    assert!(r.get("structuredContent").is_none());

    // Missing required argument: nothing is sent.
    let before = ctx.recorded().await.as_array().unwrap().len();
    let err = ctx
        .spec
        .build_request("getPetById", &Map::new(), &ctx.base)
        .unwrap_err();
    assert_eq!(err, CallError::MissingArgument("path.petId".into()));
    assert_eq!(ctx.recorded().await.as_array().unwrap().len(), before);
}

#[test]
fn server_stops_by_itself_and_only_listens_on_loopback() {
    // Max lifetime: exits although stdin stays open.
    let started = std::time::Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_meshgate-demo-petstore"))
        .args(["--max-lifetime-secs", "1"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.starts_with("LISTENING 127.0.0.1:"), "{line}");
    // (`Child::wait` would close stdin first: keep it open and poll instead.)
    let stdin = child.stdin.take();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(30));
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert!(status.success());
    assert!(started.elapsed() >= std::time::Duration::from_millis(900));
    drop(stdin);

    // Stdin EOF: exits at once.
    let server = Server::start();
    drop(server);

    // Non-loopback addresses are refused.
    let out = Command::new(env!("CARGO_BIN_EXE_meshgate-demo-petstore"))
        .args(["--listen", "0.0.0.0:0"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
}
