use serde_json::json;

use super::*;
use crate::refs::lookup;

#[test]
fn json_pointer_escaping_and_percent_encoding() {
    let doc = json!({"a": {"b/c": {"d~e": 1}, "sp ace": 2, "arr": [10, 11]}});
    assert_eq!(lookup(&doc, "#/a/b~1c/d~0e").unwrap(), &json!(1));
    assert_eq!(lookup(&doc, "#/a/sp%20ace").unwrap(), &json!(2));
    assert_eq!(lookup(&doc, "#/a/b~1c/d%7E0e").unwrap(), &json!(1));
    assert_eq!(lookup(&doc, "#/a/arr/1").unwrap(), &json!(11));
    assert_eq!(lookup(&doc, "#").unwrap(), &doc);
    assert!(lookup(&doc, "#/a/missing").is_err());
    assert!(lookup(&doc, "other.yaml#/a")
        .unwrap_err()
        .contains("external"));
}

#[test]
fn nested_schema_refs_are_inlined() {
    let s = spec(oas30(
        json!({"/o": {"post": {"operationId": "mk",
            "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Order"}}}},
            "responses": {"200": {"description": "ok", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Order"}}}}}}}}),
        json!({"schemas": {
            "Order": {"type": "object", "properties": {"item": {"$ref": "#/components/schemas/Item"}, "qty": {"type": "integer"}}},
            "Item": {"type": "object", "properties": {"sku": {"$ref": "#/components/schemas/Sku"}}},
            "Sku": {"type": "string", "pattern": "^[A-Z]+$"}
        }}),
    ));
    let t = tool(&s, "mk");
    let body = &t.input_schema["properties"]["body"];
    assert_eq!(
        body["properties"]["item"]["properties"]["sku"],
        json!({"type": "string", "pattern": "^[A-Z]+$"})
    );
    assert_eq!(t.input_schema["required"], json!(["body"]));
    assert_eq!(
        t.output_schema.as_ref().unwrap()["properties"]["qty"]["type"],
        "integer"
    );
    assert!(!t.input_schema.to_string().contains("$ref"));
}

#[test]
fn recursive_refs_terminate_with_a_placeholder() {
    let s = spec(oas30(
        json!({"/n": {"get": {"operationId": "tree",
            "responses": {"200": {"description": "ok", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Node"}}}}}}}}),
        json!({"schemas": {
            "Node": {"type": "object", "properties": {
                "name": {"type": "string"},
                "children": {"type": "array", "items": {"$ref": "#/components/schemas/Node"}},
                "owner": {"$ref": "#/components/schemas/Person"}}},
            "Person": {"type": "object", "properties": {"pets": {"type": "array", "items": {"$ref": "#/components/schemas/Node"}}}}
        }}),
    ));
    let out = tool(&s, "tree").output_schema.clone().unwrap();
    let items = &out["properties"]["children"]["items"];
    assert_eq!(
        items,
        &json!({"type": "object", "description": "(recursive reference to Node)"})
    );
    // Mutual recursion (Node → Person → Node) stops too.
    assert_eq!(
        out["properties"]["owner"]["properties"]["pets"]["items"]["description"],
        "(recursive reference to Node)"
    );
}

#[test]
fn huge_schemas_are_cut_to_a_depth_that_fits() {
    // A wide, deep DAG: every level references the next one 8 times.
    let mut schemas = serde_json::Map::new();
    for level in 0..8 {
        let mut props = serde_json::Map::new();
        for i in 0..8 {
            props.insert(
                format!("f{i}"),
                json!({"$ref": format!("#/components/schemas/L{}", level + 1)}),
            );
        }
        schemas.insert(
            format!("L{level}"),
            json!({"type": "object", "description": "x".repeat(50), "properties": props}),
        );
    }
    schemas.insert("L8".into(), json!({"type": "string"}));
    let s = spec(oas30(
        json!({"/big": {"post": {"operationId": "big",
            "requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/L0"}}}},
            "responses": {}}}}),
        json!({"schemas": schemas}),
    ));
    let input = &tool(&s, "big").input_schema;
    let size = input.to_string().len();
    assert!(size <= crate::schema::SIZE_LIMIT, "{size}");
    assert!(input.to_string().contains("not expanded, nesting too deep"));
}

#[test]
fn parameter_request_body_response_and_path_item_refs() {
    let s = spec(oas30(
        json!({
            "/items/{id}": {"$ref": "#/components/pathItems/Item"},
        }),
        json!({
            "pathItems": {"Item": {
                "parameters": [{"$ref": "#/components/parameters/Id"}],
                "put": {"operationId": "putItem",
                    "parameters": [{"$ref": "#/components/parameters/Trace"}],
                    "requestBody": {"$ref": "#/components/requestBodies/ItemBody"},
                    "responses": {"200": {"$ref": "#/components/responses/ItemResp"}}}}},
            "parameters": {
                "Id": {"name": "id", "in": "path", "required": true, "schema": {"type": "integer"}},
                "Trace": {"$ref": "#/components/parameters/Trace2"},
                "Trace2": {"name": "X-Trace", "in": "header", "schema": {"type": "string"}}},
            "requestBodies": {"ItemBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Item"}}}}},
            "responses": {"ItemResp": {"description": "ok", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Item"}}}}},
            "schemas": {"Item": {"type": "object", "properties": {"name": {"type": "string"}}}}
        }),
    ));
    let t = tool(&s, "putItem");
    let p = &t.input_schema["properties"];
    assert_eq!(p["path"]["properties"]["id"]["type"], "integer");
    assert_eq!(p["header"]["properties"]["X-Trace"]["type"], "string");
    assert_eq!(p["body"]["properties"]["name"]["type"], "string");
    assert_eq!(
        t.output_schema.as_ref().unwrap()["properties"]["name"]["type"],
        "string"
    );
    let r = build(
        &s,
        "putItem",
        json!({"path": {"id": 7}, "header": {"X-Trace": "t"}, "body": {"name": "n"}}),
    );
    assert_eq!(path(&r), "/items/7");
}

#[test]
fn external_and_dangling_refs_become_described_schemas_with_warnings() {
    let s = spec(oas30(
        json!({"/e": {"post": {"operationId": "ext",
            "parameters": [{"$ref": "common.yaml#/parameters/P"}, {"name": "q", "in": "query", "schema": {"$ref": "#/components/schemas/Nope"}}],
            "requestBody": {"content": {"application/json": {"schema": {"$ref": "https://example.com/s.json#/Pet"}}}},
            "responses": {}}}}),
        json!({}),
    ));
    let t = tool(&s, "ext");
    let p = &t.input_schema["properties"];
    assert_eq!(
        p["body"]["description"],
        "(unresolved reference https://example.com/s.json#/Pet)"
    );
    assert_eq!(
        p["query"]["properties"]["q"]["description"],
        "(unresolved reference #/components/schemas/Nope)"
    );
    assert_eq!(s.warnings().len(), 3, "{:?}", s.warnings());
    assert!(s.warnings().iter().any(|w| w.contains("common.yaml")));
}

#[test]
fn ref_cycles_between_non_schema_objects_do_not_hang() {
    let s = spec(oas30(
        json!({"/c": {"get": {"operationId": "cyc", "parameters": [{"$ref": "#/components/parameters/A"}], "responses": {}}}}),
        json!({"parameters": {"A": {"$ref": "#/components/parameters/B"}, "B": {"$ref": "#/components/parameters/A"}}}),
    ));
    assert_eq!(names(&s), ["cyc"]);
    assert!(s.warnings()[0].contains("cycle"), "{:?}", s.warnings());
}

#[test]
fn ref_siblings_are_overlaid_or_combined() {
    let s = spec(oas31(
        json!({"/s": {"post": {"operationId": "sib",
            "requestBody": {"content": {"application/json": {"schema": {"type": "object", "properties": {
                "a": {"$ref": "#/components/schemas/S", "description": "overridden"},
                "b": {"$ref": "#/components/schemas/S", "maxLength": 3}}}}}},
            "responses": {}}}}),
        json!({"schemas": {"S": {"type": "string", "description": "orig"}}}),
    ));
    let props = &tool(&s, "sib").input_schema["properties"]["body"]["properties"];
    assert_eq!(
        props["a"],
        json!({"type": "string", "description": "overridden"})
    );
    assert_eq!(
        props["b"],
        json!({"allOf": [{"type": "string", "description": "orig"}, {"maxLength": 3}]})
    );
}
