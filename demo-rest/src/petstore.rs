//! The Petstore v3 operations served under `/api/v3`, plus `/__recorded` and `/spec/<file>`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Mutex;

use http_body_util::BodyExt as _;
use hyper::body::Incoming;
use hyper::{Method, Request, StatusCode};
use serde_json::{json, Value};

use crate::recorder::record;
use crate::util::{all, decode, error, first, json_resp, query_pairs, respond, Resp};

const STATUSES: [&str; 3] = ["available", "pending", "sold"];

pub struct State {
    pets: Mutex<BTreeMap<i64, Value>>,
    recorded: Mutex<Vec<Value>>,
    spec_dir: Option<PathBuf>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn seed() -> BTreeMap<i64, Value> {
    let pet = |id: i64, name: &str, status: &str, tags: &[&str]| {
        let tags: Vec<Value> = tags
            .iter()
            .enumerate()
            .map(|(i, t)| json!({"id": i + 1, "name": t}))
            .collect();
        (
            id,
            json!({
                "id": id, "name": name, "status": status,
                "category": {"id": 1, "name": "Dogs"},
                "photoUrls": [format!("https://example.invalid/{name}.png")],
                "tags": tags,
            }),
        )
    };
    BTreeMap::from([
        pet(1, "doggie", "available", &["friendly", "small"]),
        pet(2, "rex", "pending", &["large"]),
        pet(3, "tom", "sold", &["friendly"]),
    ])
}

impl State {
    pub fn new(spec_dir: Option<PathBuf>) -> State {
        State {
            pets: Mutex::new(seed()),
            recorded: Mutex::new(Vec::new()),
            spec_dir,
        }
    }
}

pub async fn handle(state: &State, req: Request<Incoming>) -> Resp {
    let (parts, body) = req.into_parts();
    let body = match body.collect().await {
        Ok(b) => b.to_bytes().to_vec(),
        Err(e) => return error(StatusCode::BAD_REQUEST, &format!("cannot read body: {e}")),
    };
    let path = parts.uri.path().to_string();
    if path == "/__recorded" {
        return recorded(state, &parts.method);
    }
    lock(&state.recorded).push(record(&parts, &body));
    let query = query_pairs(parts.uri.query().unwrap_or(""));
    if let Some(file) = path.strip_prefix("/spec/") {
        return spec_file(state, &parts.method, file);
    }
    let Some(rest) = path.strip_prefix("/api/v3") else {
        return error(StatusCode::NOT_FOUND, "not found");
    };
    let segs: Vec<String> = rest.split('/').skip(1).map(decode).collect();
    let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
    let m = &parts.method;
    match (m.clone(), segs.as_slice()) {
        (Method::GET, ["pet", "findByStatus"]) => find_by_status(state, &query),
        (Method::GET, ["pet", "findByTags"]) => find_by_tags(state, &query),
        (Method::POST, ["pet"]) => add_pet(state, &parts.headers, &body),
        (Method::PUT, ["pet"]) => update_pet(state, &parts.headers, &body),
        (Method::GET, ["pet", id]) => with_id(id, |id| get_pet(state, id)),
        (Method::POST, ["pet", id]) => with_id(id, |id| update_with_query(state, id, &query)),
        (Method::DELETE, ["pet", id]) => with_id(id, |id| delete_pet(state, id, &parts.headers)),
        (Method::POST, ["pet", id, "uploadImage"]) => {
            with_id(id, |id| upload_image(state, id, &query, &body))
        }
        (Method::GET, ["store", "inventory"]) => inventory(state),
        (Method::GET, ["user", "login"]) => login(&query),
        _ => error(StatusCode::NOT_FOUND, "not found"),
    }
}

fn recorded(state: &State, method: &Method) -> Resp {
    let mut rec = lock(&state.recorded);
    match *method {
        Method::GET => json_resp(StatusCode::OK, &Value::Array(rec.clone())),
        Method::DELETE => {
            let n = rec.len();
            rec.clear();
            json_resp(StatusCode::OK, &json!({ "cleared": n }))
        }
        _ => error(StatusCode::METHOD_NOT_ALLOWED, "use GET or DELETE"),
    }
}

fn spec_file(state: &State, method: &Method, file: &str) -> Resp {
    if *method != Method::GET {
        return error(StatusCode::METHOD_NOT_ALLOWED, "use GET");
    }
    let Some(dir) = &state.spec_dir else {
        return error(StatusCode::NOT_FOUND, "no --spec-dir given");
    };
    let file = decode(file);
    if file.is_empty() || file.starts_with('.') || file.contains('/') || file.contains('\\') {
        return error(StatusCode::BAD_REQUEST, "bad file name");
    }
    match std::fs::read(dir.join(&file)) {
        Ok(bytes) => {
            let ct = if file.ends_with(".json") {
                "application/json"
            } else if file.ends_with(".yaml") || file.ends_with(".yml") {
                "application/yaml"
            } else {
                "application/octet-stream"
            };
            respond(StatusCode::OK, ct, bytes)
        }
        Err(_) => error(StatusCode::NOT_FOUND, "no such spec file"),
    }
}

fn with_id(raw: &str, f: impl FnOnce(i64) -> Resp) -> Resp {
    match raw.parse::<i64>() {
        Ok(id) => f(id),
        Err(_) => error(StatusCode::BAD_REQUEST, "Invalid ID supplied"),
    }
}

fn not_found() -> Resp {
    error(StatusCode::NOT_FOUND, "Pet not found")
}

fn get_pet(state: &State, id: i64) -> Resp {
    match lock(&state.pets).get(&id) {
        Some(p) => json_resp(StatusCode::OK, p),
        None => not_found(),
    }
}

fn list(state: &State, keep: impl Fn(&Value) -> bool) -> Resp {
    let pets: Vec<Value> = lock(&state.pets)
        .values()
        .filter(|p| keep(p))
        .cloned()
        .collect();
    json_resp(StatusCode::OK, &Value::Array(pets))
}

fn find_by_status(state: &State, q: &[(String, String)]) -> Resp {
    let wanted: Vec<&str> = all(q, "status")
        .into_iter()
        .flat_map(|s| s.split(','))
        .collect();
    let wanted = if wanted.is_empty() {
        vec!["available"]
    } else {
        wanted
    };
    if wanted.iter().any(|s| !STATUSES.contains(s)) {
        return error(StatusCode::BAD_REQUEST, "Invalid status value");
    }
    list(state, |p| {
        wanted.iter().any(|s| p["status"].as_str() == Some(s))
    })
}

fn find_by_tags(state: &State, q: &[(String, String)]) -> Resp {
    let tags: Vec<&str> = all(q, "tags")
        .into_iter()
        .flat_map(|s| s.split(','))
        .filter(|s| !s.is_empty())
        .collect();
    if tags.is_empty() {
        return error(StatusCode::BAD_REQUEST, "No tags provided");
    }
    list(state, |p| {
        p["tags"].as_array().is_some_and(|ts| {
            ts.iter()
                .any(|t| tags.iter().any(|w| t["name"].as_str() == Some(w)))
        })
    })
}

/// A pet from a JSON or form body; `Err((status, message))` otherwise.
fn parse_pet(headers: &http::HeaderMap, body: &[u8]) -> Result<Value, (StatusCode, String)> {
    let ct = headers
        .get(hyper::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let pet: Value = if ct.starts_with("application/json") {
        serde_json::from_slice(body)
            .map_err(|e| (StatusCode::BAD_REQUEST, format!("invalid JSON: {e}")))?
    } else if ct.starts_with("application/x-www-form-urlencoded") {
        let pairs = query_pairs(&String::from_utf8_lossy(body));
        let mut m = serde_json::Map::new();
        for (k, v) in pairs {
            let v = match (k.as_str(), v.parse::<i64>()) {
                ("id", Ok(n)) => json!(n),
                _ => json!(v),
            };
            m.insert(k, v);
        }
        Value::Object(m)
    } else {
        return Err((
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "send application/json or application/x-www-form-urlencoded".into(),
        ));
    };
    if !pet.is_object() || !pet["name"].is_string() {
        return Err((
            StatusCode::UNPROCESSABLE_ENTITY,
            "a pet needs a name".into(),
        ));
    }
    Ok(pet)
}

fn add_pet(state: &State, headers: &http::HeaderMap, body: &[u8]) -> Resp {
    let mut pet = match parse_pet(headers, body) {
        Ok(p) => p,
        Err((status, msg)) => return error(status, &msg),
    };
    let mut pets = lock(&state.pets);
    let id = pet["id"]
        .as_i64()
        .unwrap_or_else(|| pets.keys().next_back().copied().unwrap_or(0) + 1);
    pet["id"] = json!(id);
    pets.insert(id, pet.clone());
    json_resp(StatusCode::OK, &pet)
}

fn update_pet(state: &State, headers: &http::HeaderMap, body: &[u8]) -> Resp {
    let pet = match parse_pet(headers, body) {
        Ok(p) => p,
        Err((status, msg)) => return error(status, &msg),
    };
    let Some(id) = pet["id"].as_i64() else {
        return error(StatusCode::BAD_REQUEST, "Invalid ID supplied");
    };
    let mut pets = lock(&state.pets);
    if !pets.contains_key(&id) {
        return not_found();
    }
    pets.insert(id, pet.clone());
    json_resp(StatusCode::OK, &pet)
}

fn update_with_query(state: &State, id: i64, q: &[(String, String)]) -> Resp {
    let mut pets = lock(&state.pets);
    let Some(pet) = pets.get_mut(&id) else {
        return not_found();
    };
    if let Some(n) = first(q, "name") {
        pet["name"] = json!(n);
    }
    if let Some(s) = first(q, "status") {
        pet["status"] = json!(s);
    }
    json_resp(StatusCode::OK, pet)
}

/// `api_key: invalid` is refused (so tests can see the header reach the server).
fn delete_pet(state: &State, id: i64, headers: &http::HeaderMap) -> Resp {
    if headers
        .get("api_key")
        .is_some_and(|v| v.as_bytes() == b"invalid")
    {
        return error(StatusCode::BAD_REQUEST, "Invalid api_key");
    }
    match lock(&state.pets).remove(&id) {
        Some(_) => json_resp(
            StatusCode::OK,
            &json!({"code": 200, "message": "Pet deleted"}),
        ),
        None => not_found(),
    }
}

fn upload_image(state: &State, id: i64, q: &[(String, String)], body: &[u8]) -> Resp {
    if !lock(&state.pets).contains_key(&id) {
        return not_found();
    }
    let meta = first(q, "additionalMetadata").unwrap_or("");
    json_resp(
        StatusCode::OK,
        &json!({
            "code": 200,
            "type": "unknown",
            "message": format!("additionalMetadata: {meta}\nFile uploaded, {} bytes", body.len()),
        }),
    )
}

fn inventory(state: &State) -> Resp {
    let mut counts: BTreeMap<String, i64> = BTreeMap::new();
    for p in lock(&state.pets).values() {
        if let Some(s) = p["status"].as_str() {
            *counts.entry(s.to_string()).or_default() += 1;
        }
    }
    json_resp(StatusCode::OK, &json!(counts))
}

fn login(q: &[(String, String)]) -> Resp {
    match (first(q, "username"), first(q, "password")) {
        (Some(u), Some(_)) if !u.is_empty() => {
            let mut r = json_resp(
                StatusCode::OK,
                &json!(format!("logged in user session: {u}")),
            );
            r.headers_mut()
                .insert("x-rate-limit", http::HeaderValue::from_static("5000"));
            r
        }
        _ => error(
            StatusCode::BAD_REQUEST,
            "Invalid username/password supplied",
        ),
    }
}
