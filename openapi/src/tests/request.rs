use serde_json::{json, Value};

use super::*;
use crate::CallError;

fn q(style: &str, explode: bool, schema: Value) -> Value {
    json!({"name": "p", "in": "query", "style": style, "explode": explode, "schema": schema})
}

fn arr() -> Value {
    json!({"type": "array", "items": {"type": "string"}})
}

fn obj() -> Value {
    json!({"type": "object"})
}

fn query_of(param: Value, value: Value) -> String {
    let s = one_op(json!([param]));
    query(&build(&s, "op", json!({"query": {"p": value}}))).to_string()
}

#[test]
fn query_form_style() {
    let form = |explode, schema, v| query_of(q("form", explode, schema), v);
    assert_eq!(form(true, arr(), json!(["a", "b c"])), "p=a&p=b%20c");
    assert_eq!(form(false, arr(), json!(["a", "b,c"])), "p=a,b%2Cc");
    assert_eq!(form(true, obj(), json!({"r": 1, "g": "x"})), "g=x&r=1");
    assert_eq!(form(false, obj(), json!({"r": 1, "g": "x"})), "p=g,x,r,1");
    assert_eq!(
        form(true, json!({"type": "string"}), json!("a&b=c/d?")),
        "p=a%26b%3Dc%2Fd%3F"
    );
    // Defaults: form, explode=true.
    let s = one_op(json!([{"name": "t", "in": "query", "schema": arr()}]));
    assert_eq!(
        query(&build(&s, "op", json!({"query": {"t": ["1", "2"]}}))),
        "t=1&t=2"
    );
}

#[test]
fn query_delimited_and_deep_object_styles() {
    assert_eq!(
        query_of(q("spaceDelimited", false, arr()), json!(["a", "b"])),
        "p=a%20b"
    );
    assert_eq!(
        query_of(q("pipeDelimited", false, arr()), json!(["a", "b"])),
        "p=a%7Cb"
    );
    assert_eq!(
        query_of(q("pipeDelimited", true, arr()), json!(["a", "b"])),
        "p=a&p=b"
    );
    assert_eq!(
        query_of(q("spaceDelimited", false, obj()), json!({"k": "v", "l": 2})),
        "p=k%20v%20l%202"
    );
    assert_eq!(
        query_of(q("deepObject", true, obj()), json!({"name": "n x", "range": {"min": 1, "max": 2}, "ids": [1, 2]})),
        "p%5Bids%5D=1&p%5Bids%5D=2&p%5Bname%5D=n%20x&p%5Brange%5D%5Bmax%5D=2&p%5Brange%5D%5Bmin%5D=1"
    );
}

#[test]
fn falsy_values_are_sent_and_null_is_absent() {
    let s = one_op(json!([
        {"name": "zero", "in": "query", "schema": {"type": "integer"}},
        {"name": "no", "in": "query", "schema": {"type": "boolean"}},
        {"name": "empty", "in": "query", "schema": {"type": "string"}},
        {"name": "gone", "in": "query", "schema": {"type": "string"}},
        {"name": "f", "in": "query", "schema": {"type": "number"}}]));
    let r = build(
        &s,
        "op",
        json!({"query": {"zero": 0, "no": false, "empty": "", "gone": null, "f": 1.5}}),
    );
    assert_eq!(query(&r), "zero=0&no=false&empty=&f=1.5");
}

#[test]
fn allow_reserved_and_content_parameters() {
    let s = one_op(json!([
        {"name": "r", "in": "query", "allowReserved": true, "schema": {"type": "string"}},
        {"name": "j", "in": "query", "content": {"application/json": {"schema": {"type": "object"}}}}]));
    let r = build(
        &s,
        "op",
        json!({"query": {"r": "a/b:c,d&e", "j": {"x": [1]}}}),
    );
    assert_eq!(query(&r), "r=a/b:c,d%26e&j=%7B%22x%22%3A%5B1%5D%7D");
}

#[test]
fn missing_required_and_unknown_arguments() {
    let s = one_op(
        json!([{"name": "need", "in": "query", "required": true, "schema": {"type": "string"}},
                         {"name": "opt", "in": "header", "schema": {"type": "string"}}]),
    );
    let e = s
        .build_request("op", &args(json!({})), "https://h")
        .unwrap_err();
    assert_eq!(e, CallError::MissingArgument("query.need".into()));
    assert_eq!(e.to_string(), "missing required argument `query.need`");
    let e = s
        .build_request("op", &args(json!({"query": {"need": null}})), "https://h")
        .unwrap_err();
    assert_eq!(e, CallError::MissingArgument("query.need".into()));
    let e = s
        .build_request("nope", &args(json!({})), "https://h")
        .unwrap_err();
    assert_eq!(e, CallError::UnknownTool("nope".into()));
    let e = s
        .build_request("op", &args(json!({"need": "x"})), "https://h")
        .unwrap_err();
    assert!(
        matches!(e, CallError::InvalidArgument { ref param, ref reason } if param == "need" && reason.contains("query, header")),
        "{e}"
    );
    let e = s
        .build_request(
            "op",
            &args(json!({"query": {"need": "x", "other": 1}})),
            "https://h",
        )
        .unwrap_err();
    assert!(
        matches!(e, CallError::InvalidArgument { ref param, .. } if param == "query.other"),
        "{e}"
    );
    let e = s
        .build_request("op", &args(json!({"query": "need=x"})), "https://h")
        .unwrap_err();
    assert!(
        matches!(e, CallError::InvalidArgument { ref param, .. } if param == "query"),
        "{e}"
    );
    let e = s
        .build_request(
            "op",
            &args(json!({"query": {"need": "x"}, "body": {}})),
            "https://h",
        )
        .unwrap_err();
    assert!(
        matches!(e, CallError::InvalidArgument { ref param, .. } if param == "body"),
        "{e}"
    );
}

fn path_spec(style: &str, explode: bool) -> ApiSpec {
    spec(oas30(
        json!({"/a/{p}/b/{q}/c/{r}": {"get": {"operationId": "op", "parameters": [
            {"name": "p", "in": "path", "required": true, "style": style, "explode": explode, "schema": {"type": "string"}},
            {"name": "q", "in": "path", "required": true, "style": style, "explode": explode, "schema": arr()},
            {"name": "r", "in": "path", "required": true, "style": style, "explode": explode, "schema": obj()}],
            "responses": {}}}}),
        json!({}),
    ))
}

fn path_of(style: &str, explode: bool) -> String {
    let s = path_spec(style, explode);
    let r = build(
        &s,
        "op",
        json!({"path": {"p": "x y", "q": ["1", "2"], "r": {"k": "v", "l": 3}}}),
    );
    path(&r).to_string()
}

#[test]
fn path_styles() {
    assert_eq!(path_of("simple", false), "/a/x%20y/b/1,2/c/k,v,l,3");
    assert_eq!(path_of("simple", true), "/a/x%20y/b/1,2/c/k=v,l=3");
    assert_eq!(path_of("label", false), "/a/.x%20y/b/.1,2/c/.k,v,l,3");
    assert_eq!(path_of("label", true), "/a/.x%20y/b/.1.2/c/.k=v.l=3");
    assert_eq!(
        path_of("matrix", false),
        "/a/;p=x%20y/b/;q=1,2/c/;r=k,v,l,3"
    );
    assert_eq!(path_of("matrix", true), "/a/;p=x%20y/b/;q=1;q=2/c/;k=v;l=3");
}

#[test]
fn path_values_are_fully_encoded_and_escapes_refused() {
    let s = spec(oas30(
        json!({"/files/{name}": {"get": {"operationId": "f", "parameters": [
            {"name": "name", "in": "path", "required": true, "schema": {"type": "string"}}], "responses": {}}}}),
        json!({}),
    ));
    let r = build(
        &s,
        "f",
        json!({"path": {"name": "a b;c?d#e%f&g=h+i:j@k,l'm!n$o(p)q*r[s]ü"}}),
    );
    assert_eq!(
        path(&r),
        "/files/a%20b%3Bc%3Fd%23e%25f%26g%3Dh%2Bi%3Aj%40k%2Cl%27m%21n%24o%28p%29q%2Ar%5Bs%5D%C3%BC"
    );
    assert_eq!(
        path(&build(&s, "f", json!({"path": {"name": 0}}))),
        "/files/0"
    );
    assert_eq!(
        path(&build(&s, "f", json!({"path": {"name": "..."}}))),
        "/files/..."
    );
    for bad in [".", "..", "a/b", "../etc/passwd", "/"] {
        let e = s
            .build_request("f", &args(json!({"path": {"name": bad}})), "https://h")
            .unwrap_err();
        match e {
            CallError::InvalidArgument { param, reason } => {
                assert_eq!(param, "path.name");
                assert!(reason.contains("escape the path"), "{reason}");
            }
            other => panic!("{bad}: {other:?}"),
        }
    }
    let e = s
        .build_request("f", &args(json!({"path": {"name": ""}})), "https://h")
        .unwrap_err();
    assert!(matches!(e, CallError::InvalidArgument { .. }), "{e}");
    let e = s
        .build_request("f", &args(json!({})), "https://h")
        .unwrap_err();
    assert_eq!(e, CallError::MissingArgument("path.name".into()));
}

#[test]
fn header_and_cookie_parameters() {
    let s = one_op(json!([
        {"name": "X-Id", "in": "header", "schema": {"type": "integer"}},
        {"name": "X-List", "in": "header", "schema": arr()},
        {"name": "X-Obj", "in": "header", "explode": true, "schema": obj()},
        {"name": "X-Obj2", "in": "header", "schema": obj()},
        {"name": "session", "in": "cookie", "schema": {"type": "string"}},
        {"name": "ids", "in": "cookie", "explode": false, "schema": arr()},
        {"name": "multi", "in": "cookie", "schema": arr()}]));
    let r = build(
        &s,
        "op",
        json!({
        "header": {"X-Id": 0, "X-List": ["a", "b"], "X-Obj": {"k": "v", "n": 1}, "X-Obj2": {"k": "v"}},
        "cookie": {"session": "a b;c", "ids": ["1", "2"], "multi": ["x", "y"]}}),
    );
    assert_eq!(r.header("x-id"), Some("0"));
    assert_eq!(r.header("X-List"), Some("a,b"));
    assert_eq!(r.header("X-Obj"), Some("k=v,n=1"));
    assert_eq!(r.header("X-Obj2"), Some("k,v"));
    assert_eq!(
        r.header("cookie"),
        Some("session=a%20b%3Bc; ids=1,2; multi=x; multi=y")
    );
    assert_eq!(r.headers.iter().filter(|(k, _)| k == "cookie").count(), 1);
    assert!(r.body.is_none() && r.header("content-type").is_none());
    let e = s
        .build_request(
            "op",
            &args(json!({"header": {"X-Id": "1\r\nInjected: yes"}})),
            "https://h",
        )
        .unwrap_err();
    assert!(
        matches!(e, CallError::InvalidArgument { ref param, ref reason } if param == "header.X-Id" && !reason.contains("Injected")),
        "{e}"
    );
}

fn body_spec(content: Value) -> ApiSpec {
    spec(oas30(
        json!({"/b": {"post": {"operationId": "b", "requestBody": {"required": true, "content": content},
            "responses": {"200": {"description": "ok", "content": {"application/xml": {}, "application/json": {}}}}}}}),
        json!({}),
    ))
}

#[test]
fn json_body_is_preferred() {
    let s = body_spec(json!({
        "application/xml": {"schema": obj()},
        "application/x-www-form-urlencoded": {"schema": obj()},
        "application/json": {"schema": obj()}}));
    let r = build(&s, "b", json!({"body": {"a": [1, false, null], "s": ""}}));
    assert_eq!(r.method, http::Method::POST);
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.header("accept"), Some("application/json"));
    assert_eq!(
        serde_json::from_slice::<Value>(r.body.as_ref().unwrap()).unwrap(),
        json!({"a": [1, false, null], "s": ""})
    );
    let e = s
        .build_request("b", &args(json!({})), "https://h")
        .unwrap_err();
    assert_eq!(e, CallError::MissingArgument("body".into()));
    // A non-object JSON body is fine too.
    let r = build(&s, "b", json!({"body": [1, 2]}));
    assert_eq!(r.body.as_deref(), Some(&b"[1,2]"[..]));
}

#[test]
fn form_urlencoded_body() {
    let s = body_spec(json!({"application/x-www-form-urlencoded": {
        "schema": {"type": "object", "properties": {"name": {"type": "string"}, "tags": arr(), "meta": obj(), "ids": arr()}},
        "encoding": {"ids": {"style": "form", "explode": false}}}}));
    let r = build(
        &s,
        "b",
        json!({"body": {"name": "a b&c", "tags": ["x", "y"], "meta": {"k": 1}, "ids": ["1", "2"], "n": 0}}),
    );
    assert_eq!(
        r.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(
        String::from_utf8(r.body.unwrap()).unwrap(),
        "ids=1,2&meta=%7B%22k%22%3A1%7D&n=0&name=a%20b%26c&tags=x&tags=y"
    );
}

#[test]
fn multipart_body_with_files() {
    let s = body_spec(json!({"multipart/form-data": {
        "schema": {"type": "object", "properties": {
            "file": {"type": "string", "format": "binary"},
            "more": {"type": "array", "items": {"type": "string", "format": "binary"}},
            "note": {"type": "string"}, "meta": obj(), "n": {"type": "integer"}}},
        "encoding": {"file": {"contentType": "image/png"}}}}));
    let body_schema = &tool(&s, "b").input_schema["properties"]["body"];
    assert_eq!(
        body_schema["properties"]["file"]["contentEncoding"],
        "base64"
    );
    assert_eq!(
        body_schema["properties"]["more"]["items"]["contentEncoding"],
        "base64"
    );
    let r = build(
        &s,
        "b",
        json!({"body": {"file": "iVBORw==", "more": ["AAE=", "/w=="], "note": "hé", "meta": {"a": 1}, "n": 0}}),
    );
    let ct = r.header("content-type").unwrap().to_string();
    let boundary = ct.strip_prefix("multipart/form-data; boundary=").unwrap();
    let body = r.body.unwrap();
    let expected = [
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"file\"\r\nContent-Type: image/png\r\n\r\n").into_bytes(),
        vec![0x89, b'P', b'N', b'G'],
        format!("\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"meta\"\r\nContent-Type: application/json\r\n\r\n{{\"a\":1}}").into_bytes(),
        format!("\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"more\"; filename=\"more\"\r\nContent-Type: application/octet-stream\r\n\r\n").into_bytes(),
        vec![0, 1],
        format!("\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"more\"; filename=\"more\"\r\nContent-Type: application/octet-stream\r\n\r\n").into_bytes(),
        vec![0xff],
        format!("\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"n\"\r\n\r\n0").into_bytes(),
        format!("\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhé").into_bytes(),
        format!("\r\n--{boundary}--\r\n").into_bytes(),
    ]
    .concat();
    assert_eq!(
        String::from_utf8_lossy(&body),
        String::from_utf8_lossy(&expected)
    );
    assert_eq!(body, expected);
    let e = s
        .build_request(
            "b",
            &args(json!({"body": {"file": "not base64!"}})),
            "https://h",
        )
        .unwrap_err();
    assert!(
        matches!(e, CallError::InvalidArgument { ref param, .. } if param == "body.file"),
        "{e}"
    );
    let e = s
        .build_request("b", &args(json!({"body": "x"})), "https://h")
        .unwrap_err();
    assert!(
        matches!(e, CallError::InvalidArgument { ref param, .. } if param == "body"),
        "{e}"
    );
}

#[test]
fn raw_text_and_binary_bodies() {
    let s = body_spec(
        json!({"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}),
    );
    let r = build(&s, "b", json!({"body": "AAEC/w=="}));
    assert_eq!(r.body.as_deref(), Some(&[0u8, 1, 2, 255][..]));
    assert_eq!(r.header("content-type"), Some("application/octet-stream"));
    let s = body_spec(json!({"text/plain": {"schema": {"type": "string"}}, "application/xml": {}}));
    assert_eq!(
        tool(&s, "b").input_schema["properties"]["body"]["type"],
        "string"
    );
    let r = build(&s, "b", json!({"body": "hello"}));
    assert_eq!(r.body.as_deref(), Some(&b"hello"[..]));
    assert_eq!(r.header("content-type"), Some("text/plain"));
}

#[test]
fn base_url_joining() {
    let s = spec(oas30(
        json!({"/pets/{id}": {"get": {"operationId": "g", "parameters": [
        {"name": "id", "in": "path", "required": true, "schema": {"type": "integer"}},
        {"name": "q", "in": "query", "schema": {"type": "string"}}], "responses": {}}},
        "/search?fixed=1": {"get": {"operationId": "s", "parameters": [{"name": "q", "in": "query", "schema": {"type": "string"}}], "responses": {}}}}),
        json!({}),
    ));
    let a = args(json!({"path": {"id": 5}, "query": {"q": "x"}}));
    for base in [
        "https://h.example/api/v1",
        "https://h.example/api/v1/",
        "https://h.example/api/v1//",
    ] {
        assert_eq!(
            s.build_request("g", &a, base).unwrap().url,
            "https://h.example/api/v1/pets/5?q=x"
        );
    }
    assert_eq!(
        s.build_request("g", &a, "http://127.0.0.1:8080")
            .unwrap()
            .url,
        "http://127.0.0.1:8080/pets/5?q=x"
    );
    assert_eq!(
        s.build_request("g", &a, "https://h.example/v1?key=k")
            .unwrap()
            .url,
        "https://h.example/v1/pets/5?key=k&q=x"
    );
    assert_eq!(
        s.build_request("s", &args(json!({"query": {"q": "y"}})), "https://h")
            .unwrap()
            .url,
        "https://h/search?fixed=1&q=y"
    );
    for bad in ["/relative", "ftp://h/x", "not a url"] {
        let e = s.build_request("g", &a, bad).unwrap_err();
        assert!(matches!(e, CallError::InvalidBaseUrl(_)), "{bad}: {e}");
    }
}

#[test]
fn swagger2_collection_formats() {
    let p = |name: &str, cf: &str| json!({"name": name, "in": "query", "type": "array", "items": {"type": "string"}, "collectionFormat": cf});
    let s = spec(swagger(
        json!({"/c": {"get": {"operationId": "c", "parameters": [
            p("csv", "csv"), p("ssv", "ssv"), p("tsv", "tsv"), p("pipes", "pipes"), p("multi", "multi"),
            {"name": "dflt", "in": "query", "type": "array", "items": {"type": "integer"}},
            {"name": "H", "in": "header", "type": "array", "items": {"type": "string"}}],
            "responses": {}}}}),
        json!({}),
    ));
    let v = json!(["a", "b"]);
    let r = build(
        &s,
        "c",
        json!({"query": {"csv": v, "ssv": v, "tsv": v, "pipes": v, "multi": v, "dflt": [1, 2]}, "header": {"H": v}}),
    );
    assert_eq!(
        query(&r),
        "csv=a,b&ssv=a%20b&tsv=a%09b&pipes=a%7Cb&multi=a&multi=b&dflt=1,2"
    );
    assert_eq!(r.header("H"), Some("a,b"));
}

#[test]
fn swagger2_form_data_bodies() {
    let s = spec(swagger(
        json!({
            "/f": {"post": {"operationId": "f", "consumes": ["application/x-www-form-urlencoded"], "parameters": [
                {"name": "name", "in": "formData", "required": true, "type": "string"},
                {"name": "ids", "in": "formData", "type": "array", "items": {"type": "integer"}, "collectionFormat": "multi"},
                {"name": "csv", "in": "formData", "type": "array", "items": {"type": "integer"}}], "responses": {}}},
            "/m": {"post": {"operationId": "m", "parameters": [
                {"name": "file", "in": "formData", "type": "file"},
                {"name": "note", "in": "formData", "type": "string"}], "responses": {}}}}),
        json!({}),
    ));
    let r = build(
        &s,
        "f",
        json!({"body": {"name": "n m", "ids": [1, 2], "csv": [3, 4]}}),
    );
    assert_eq!(
        r.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(
        String::from_utf8(r.body.unwrap()).unwrap(),
        "csv=3,4&ids=1&ids=2&name=n%20m"
    );
    let e = s
        .build_request("f", &args(json!({})), "https://h")
        .unwrap_err();
    assert_eq!(e, CallError::MissingArgument("body".into()));
    let r = build(&s, "m", json!({"body": {"file": "aGk=", "note": "x"}}));
    assert!(r
        .header("content-type")
        .unwrap()
        .starts_with("multipart/form-data; boundary="));
    let body = String::from_utf8(r.body.unwrap()).unwrap();
    assert!(body.contains("name=\"file\"; filename=\"file\"\r\nContent-Type: application/octet-stream\r\n\r\nhi\r\n"), "{body}");
}

#[test]
fn parameters_style_corpus_operations_build() {
    // Every operation of the readme parameter-style matrix builds with sample values.
    let file = "shared/openapi/readme-3.0-parameters-style.json";
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let bytes = std::fs::read(root.join("../..").join(file))
        .or_else(|_| std::fs::read(root.join("../../..").join(file)))
        .unwrap();
    let s = ApiSpec::parse(&bytes, "readme").unwrap();
    for t in s.tools() {
        let mut a = serde_json::Map::new();
        for (group, schema) in t.input_schema["properties"].as_object().unwrap() {
            if group == "body" {
                a.insert(
                    "body".into(),
                    json!({"primitive": "p", "array": ["a", "b"], "object": {"k": "v"}}),
                );
                continue;
            }
            let mut vals = serde_json::Map::new();
            for (name, ps) in schema["properties"].as_object().unwrap() {
                let v = match ps["type"].as_str() {
                    Some("array") => json!(["a", "b"]),
                    Some("object") => json!({"k": "v"}),
                    _ => json!("p"),
                };
                vals.insert(name.clone(), v);
            }
            a.insert(group.clone(), Value::Object(vals));
        }
        let body_ok = t.input_schema["properties"]["body"]["properties"]
            .as_object()
            .is_none_or(|p| p.contains_key("primitive"));
        if !body_ok {
            a.remove("body");
        }
        if let Err(e) = s.build_request(&t.name, &a, "https://httpbin.org") {
            panic!("{}: {e}", t.name);
        }
    }
    let r = s
        .build_request(
            "query_deepObject_nonExploded",
            &args(json!({"query": {"object": {"name": "n", "description": "d"}}})),
            "https://h",
        )
        .unwrap();
    assert_eq!(query(&r), "object%5Bdescription%5D=d&object%5Bname%5D=n");
    let r = s
        .build_request(
            "paths_matrix_exploded",
            &args(json!({"path": {"primitive": "p", "array": ["a", "b"], "object": {"k": "v"}}})),
            "https://h",
        )
        .unwrap();
    assert_eq!(
        r.url,
        "https://h/anything/path/matrix/;primitive=p/;array=a;array=b/;k=v"
    );
}
