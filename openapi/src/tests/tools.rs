use serde_json::json;

use super::*;

#[test]
fn input_schema_groups_parameters_by_location() {
    let s = spec(oas30(
        json!({"/u/{id}": {"post": {"operationId": "op",
            "parameters": [
                {"name": "id", "in": "path", "schema": {"type": "string"}},
                {"name": "id", "in": "query", "required": true, "schema": {"type": "integer"}},
                {"name": "X-Req", "in": "header", "schema": {"type": "string"}},
                {"name": "Accept", "in": "header", "schema": {"type": "string"}},
                {"name": "sess", "in": "cookie", "schema": {"type": "string"}}],
            "requestBody": {"content": {"application/json": {"schema": {"type": "object"}}}},
            "responses": {}}}}),
        json!({}),
    ));
    let t = tool(&s, "op");
    assert_eq!(
        t.input_schema,
        json!({
            "type": "object", "additionalProperties": false,
            "properties": {
                "path": {"type": "object", "description": "path parameters", "additionalProperties": false,
                         "properties": {"id": {"type": "string"}}, "required": ["id"]},
                "query": {"type": "object", "description": "query parameters", "additionalProperties": false,
                          "properties": {"id": {"type": "integer"}}, "required": ["id"]},
                "header": {"type": "object", "description": "header parameters", "additionalProperties": false,
                           "properties": {"X-Req": {"type": "string"}}},
                "cookie": {"type": "object", "description": "cookie parameters", "additionalProperties": false,
                           "properties": {"sess": {"type": "string"}}},
                "body": {"type": "object"}
            },
            "required": ["path", "query"]
        })
    );
    let bare = spec(oas30(
        json!({"/h": {"get": {"operationId": "h", "responses": {}}}}),
        json!({}),
    ));
    assert_eq!(
        tool(&bare, "h").input_schema,
        json!({"type": "object", "properties": {}, "additionalProperties": false})
    );
}

#[test]
fn path_level_parameters_are_merged_operation_wins() {
    let s = spec(oas30(
        json!({"/a/{id}": {
            "parameters": [
                {"name": "id", "in": "path", "required": true, "schema": {"type": "string"}},
                {"name": "v", "in": "query", "description": "path-level", "schema": {"type": "string"}}],
            "get": {"operationId": "g", "parameters": [
                {"name": "v", "in": "query", "description": "op-level", "schema": {"type": "integer"}},
                {"name": "v", "in": "header", "schema": {"type": "string"}}], "responses": {}},
            "delete": {"operationId": "d", "responses": {}}}}),
        json!({}),
    ));
    let g = &tool(&s, "g").input_schema["properties"];
    assert_eq!(g["path"]["properties"]["id"]["type"], "string");
    assert_eq!(
        g["query"]["properties"]["v"],
        json!({"type": "integer", "description": "op-level"})
    );
    assert_eq!(g["header"]["properties"]["v"]["type"], "string");
    let d = &tool(&s, "d").input_schema["properties"];
    assert_eq!(d["query"]["properties"]["v"]["description"], "path-level");
}

#[test]
fn undeclared_path_template_variables_are_required_strings() {
    let s = spec(oas30(
        json!({"/a/{x}/b/{y}": {"get": {"operationId": "g",
        "parameters": [{"name": "x", "in": "path", "required": true, "schema": {"type": "integer"}}], "responses": {}}}}),
        json!({}),
    ));
    let p = &tool(&s, "g").input_schema["properties"]["path"];
    assert_eq!(p["required"], json!(["x", "y"]));
    assert_eq!(p["properties"]["y"]["type"], "string");
    let r = build(&s, "g", json!({"path": {"x": 1, "y": "z"}}));
    assert_eq!(path(&r), "/a/1/b/z");
}

#[test]
fn descriptions_and_deprecation() {
    let s = spec(oas30(
        json!({"/a": {
            "get": {"operationId": "both", "summary": "Sum", "description": "Long text", "responses": {}},
            "put": {"operationId": "sum", "summary": "Only summary", "responses": {}},
            "post": {"operationId": "desc", "description": "Only description", "responses": {}},
            "delete": {"operationId": "none", "deprecated": true, "responses": {}},
            "patch": {"operationId": "p", "parameters": [{"name": "old", "in": "query", "deprecated": true, "description": "Old.", "schema": {"type": "string"}}], "responses": {}}}}),
        json!({}),
    ));
    assert_eq!(tool(&s, "both").description, "Sum\n\nLong text");
    assert_eq!(tool(&s, "both").title(), Some("Sum"));
    assert_eq!(tool(&s, "sum").description, "Only summary");
    assert_eq!(tool(&s, "desc").description, "Only description");
    assert_eq!(tool(&s, "none").description, "(deprecated) DELETE /a");
    assert_eq!(
        tool(&s, "p").input_schema["properties"]["query"]["properties"]["old"]["description"],
        "(deprecated) Old."
    );
    let mcp = tool(&s, "none").to_mcp_json();
    assert_eq!(mcp["annotations"]["destructiveHint"], true);
    assert_eq!(mcp["name"], "none");
    assert!(mcp.get("outputSchema").is_none());
}

#[test]
fn output_schema_only_for_json_object_success_responses() {
    let obj = json!({"type": "object", "properties": {"a": {"type": "string"}}});
    let resp = |code: &str, schema: serde_json::Value, ct: &str| json!({"operationId": format!("op{code}{}", ct.len()), "responses": {code: {"description": "x", "content": {ct: {"schema": schema}}}}});
    let s = spec(oas30(
        json!({
            "/a": {"get": resp("200", obj.clone(), "application/json")},
            "/b": {"get": resp("201", obj.clone(), "application/problem+json")},
            "/c": {"get": resp("2XX", obj.clone(), "application/json")},
            "/d": {"get": resp("default", obj.clone(), "application/json")},
            "/e": {"get": resp("200", json!({"type": "array", "items": obj}), "application/json")},
            "/f": {"get": resp("200", json!({"type": "object"}), "application/xml")},
            "/g": {"get": {"operationId": "g", "responses": {
                "201": {"description": "created, no body"},
                "default": {"description": "err", "content": {"application/json": {"schema": {"type": "object"}}}}}}},
            "/h": {"get": resp("200", json!({"allOf": [{"type": "object"}, {"properties": {"b": {"type": "integer"}}}]}), "application/json")}
        }),
        json!({}),
    ));
    let out = |n: &str| tool(&s, n).output_schema.clone();
    assert_eq!(out("op20016"), Some(obj.clone()));
    assert_eq!(out("op20124"), Some(obj.clone()));
    assert_eq!(out("op2XX16"), Some(obj.clone()));
    assert_eq!(out("opdefault16"), Some(obj.clone()));
    assert_eq!(out("op20016_2"), None, "arrays get no outputSchema");
    assert_eq!(out("op20015"), None, "not JSON");
    assert_eq!(out("g"), None, "201 without a body wins over default");
    assert_eq!(out("op20016_3").unwrap()["type"], "object");
}

#[test]
fn swagger2_body_form_data_and_parameters() {
    let s = spec(swagger(
        json!({
            "/pets": {"post": {"operationId": "addPet", "consumes": ["application/json", "application/xml"],
                "parameters": [{"name": "pet", "in": "body", "required": true, "schema": {"$ref": "#/definitions/Pet"}}],
                "responses": {"200": {"description": "ok", "schema": {"$ref": "#/definitions/Pet"}}}},
                "get": {"operationId": "list", "parameters": [
                    {"name": "tags", "in": "query", "type": "array", "items": {"type": "string"}, "collectionFormat": "csv"},
                    {"name": "limit", "in": "query", "type": "integer", "format": "int32", "minimum": 1, "x-nullable": true}],
                    "responses": {"200": {"description": "ok", "schema": {"type": "array", "items": {"$ref": "#/definitions/Pet"}}}}}},
            "/pets/{id}/photo": {"post": {"operationId": "upload", "consumes": ["multipart/form-data"],
                "parameters": [
                    {"name": "id", "in": "path", "required": true, "type": "integer"},
                    {"name": "file", "in": "formData", "required": true, "type": "file", "description": "The photo"},
                    {"name": "caption", "in": "formData", "type": "string"}],
                "responses": {}}},
            "/pets/{id}/form": {"post": {"operationId": "form", "consumes": ["application/x-www-form-urlencoded"],
                "parameters": [{"name": "id", "in": "path", "required": true, "type": "integer"},
                               {"name": "name", "in": "formData", "type": "string"}],
                "responses": {}}}
        }),
        json!({"Pet": {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}, "tag": {"type": "string", "x-nullable": true}}}}),
    ));
    let add = tool(&s, "addPet");
    assert_eq!(add.input_schema["required"], json!(["body"]));
    assert_eq!(
        add.input_schema["properties"]["body"]["properties"]["tag"]["type"],
        json!(["string", "null"])
    );
    assert_eq!(
        add.output_schema.as_ref().unwrap()["required"],
        json!(["name"])
    );
    let q = &tool(&s, "list").input_schema["properties"]["query"]["properties"];
    assert_eq!(
        q["tags"],
        json!({"type": "array", "items": {"type": "string"}})
    );
    assert_eq!(
        q["limit"],
        json!({"type": ["integer", "null"], "format": "int32", "minimum": 1})
    );
    let up = &tool(&s, "upload").input_schema["properties"]["body"];
    assert_eq!(up["required"], json!(["file"]));
    assert_eq!(up["properties"]["file"]["contentEncoding"], "base64");
    assert_eq!(
        up["properties"]["file"]["description"],
        "The photo (file contents, base64-encoded)"
    );
    assert_eq!(up["properties"]["caption"]["type"], "string");
    let form = &tool(&s, "form").input_schema;
    assert!(
        form.get("required").unwrap().as_array().unwrap().len() == 1,
        "{form}"
    );
}
