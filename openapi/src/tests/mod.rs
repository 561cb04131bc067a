//! Unit tests of every conversion rule, on small inline specs.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod litellm_names;
mod load;
mod naming;
mod numbers;
mod refs;
mod request;
mod response;
mod schema;
mod tools;

use serde_json::{json, Map, Value};

use crate::{ApiSpec, PreparedRequest, ToolDef};

/// Parse a spec given as JSON; every generated schema must be valid JSON Schema 2020-12.
/// Tools keep their exact names here (most rules are about other things); see
/// [`spec_litellm`] for the default naming.
pub(crate) fn spec(doc: Value) -> ApiSpec {
    spec_named(doc, crate::ToolNaming::Exact)
}

pub(crate) fn spec_litellm(doc: Value) -> ApiSpec {
    spec_named(doc, crate::ToolNaming::LiteLlm)
}

pub(crate) fn spec_named(doc: Value, naming: crate::ToolNaming) -> ApiSpec {
    let options = crate::ParseOptions {
        naming,
        ..Default::default()
    };
    let s = ApiSpec::parse_with(doc.to_string().as_bytes(), "test.json", options).unwrap();
    for t in s.tools() {
        valid_schema(&t.input_schema);
        if let Some(o) = &t.output_schema {
            valid_schema(o);
        }
    }
    s
}

pub(crate) fn valid_schema(schema: &Value) {
    if let Err(e) = jsonschema::draft202012::new(schema) {
        panic!("invalid JSON Schema: {e}\n{schema:#}");
    }
}

/// An OpenAPI 3.0 document with these paths (and components).
pub(crate) fn oas30(paths: Value, components: Value) -> Value {
    json!({"openapi": "3.0.3", "info": {"title": "t", "version": "1"}, "paths": paths, "components": components})
}

pub(crate) fn oas31(paths: Value, components: Value) -> Value {
    json!({"openapi": "3.1.0", "info": {"title": "t", "version": "1"}, "paths": paths, "components": components})
}

pub(crate) fn swagger(paths: Value, definitions: Value) -> Value {
    json!({"swagger": "2.0", "info": {"title": "t", "version": "1"}, "host": "api.example.com",
           "basePath": "/v1", "paths": paths, "definitions": definitions})
}

/// A spec with one operation `GET /x` (operationId `op`) with these parameters.
pub(crate) fn one_op(params: Value) -> ApiSpec {
    spec(oas30(
        json!({"/x": {"get": {"operationId": "op", "parameters": params, "responses": {"200": {"description": "ok"}}}}}),
        json!({}),
    ))
}

pub(crate) fn tool<'s>(s: &'s ApiSpec, name: &str) -> &'s ToolDef {
    s.tool(name)
        .unwrap_or_else(|| panic!("no tool {name}; have {:?}", names(s)))
}

pub(crate) fn names(s: &ApiSpec) -> Vec<String> {
    s.tools().iter().map(|t| t.name.clone()).collect()
}

pub(crate) fn args(v: Value) -> Map<String, Value> {
    v.as_object().unwrap().clone()
}

pub(crate) fn build(s: &ApiSpec, tool: &str, a: Value) -> PreparedRequest {
    s.build_request(tool, &args(a), "https://api.example.com/base/")
        .unwrap()
}

/// The query string of a built request.
pub(crate) fn query(r: &PreparedRequest) -> &str {
    r.url.split_once('?').map(|(_, q)| q).unwrap_or("")
}

/// The path of a built request (after the base URL `https://api.example.com/base`).
pub(crate) fn path(r: &PreparedRequest) -> &str {
    let u = r.url.strip_prefix("https://api.example.com/base").unwrap();
    u.split('?').next().unwrap()
}

#[test]
fn api_spec_is_send_and_sync() {
    fn check<T: Send + Sync + Clone + std::fmt::Debug>() {}
    check::<ApiSpec>();
    check::<ToolDef>();
    check::<PreparedRequest>();
}

#[test]
fn the_schema_check_rejects_invalid_schemas() {
    for bad in [
        json!({"type": 5}),
        json!({"required": true}),
        json!({"allOf": []}),
        json!({"minLength": -1}),
    ] {
        assert!(jsonschema::draft202012::new(&bad).is_err(), "{bad}");
    }
}
