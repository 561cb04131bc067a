use serde_json::{json, Value};

use super::*;
use crate::refs::Refs;
use crate::schema::{make_nullable, SchemaCx};

/// Convert one schema in the context of `components`.
fn conv(schema: Value, components: Value) -> Value {
    let doc = json!({"components": {"schemas": components}, "definitions": components});
    let refs = Refs::new(&doc);
    let out = SchemaCx::new(&refs, 10).convert(&schema);
    valid_schema(&out);
    out
}

#[test]
fn oas30_nullable_becomes_type_arrays() {
    assert_eq!(
        conv(json!({"type": "string", "nullable": true}), json!({})),
        json!({"type": ["string", "null"]})
    );
    assert_eq!(
        conv(
            json!({"type": "string", "enum": ["a", "b"], "nullable": true}),
            json!({})
        ),
        json!({"type": ["string", "null"], "enum": ["a", "b", null]})
    );
    assert_eq!(
        conv(
            json!({"allOf": [{"$ref": "#/components/schemas/A"}], "nullable": true, "description": "d"}),
            json!({"A": {"type": "object"}})
        ),
        json!({"description": "d", "anyOf": [{"allOf": [{"type": "object"}]}, {"type": "null"}]})
    );
    // nullable next to a $ref (common in 3.0 generators).
    assert_eq!(
        conv(
            json!({"$ref": "#/components/schemas/E", "nullable": true}),
            json!({"E": {"type": "string", "enum": ["x"]}})
        ),
        json!({"type": ["string", "null"], "enum": ["x", null]})
    );
    assert_eq!(
        conv(json!({"type": "integer", "nullable": false}), json!({})),
        json!({"type": "integer"})
    );
    assert_eq!(make_nullable(json!({})), json!({}));
}

#[test]
fn oas31_keywords_are_kept() {
    let s = json!({
        "type": ["string", "null"], "const": "x", "examples": ["x"],
        "contentMediaType": "text/plain", "deprecated": true,
        "prefixItems": [{"type": "integer"}], "unevaluatedProperties": false,
        "dependentRequired": {"a": ["b"]}, "minContains": 1,
        "if": {"type": "string"}, "then": {"minLength": 1}, "else": false,
        "patternProperties": {"^x-": {"type": "string"}}, "propertyNames": {"maxLength": 5}
    });
    assert_eq!(conv(s.clone(), json!({})), s);
    assert_eq!(
        conv(
            json!({"type": "object", "properties": {"a": true, "b": false}}),
            json!({})
        ),
        json!({"type": "object", "properties": {"a": true, "b": false}})
    );
}

#[test]
fn oas30_and_swagger_specifics_are_converted() {
    assert_eq!(
        conv(
            json!({"type": "number", "minimum": 0, "exclusiveMinimum": true, "maximum": 9, "exclusiveMaximum": false}),
            json!({})
        ),
        json!({"type": "number", "exclusiveMinimum": 0, "maximum": 9})
    );
    assert_eq!(
        conv(json!({"type": "integer", "example": 3}), json!({})),
        json!({"type": "integer", "examples": [3]})
    );
    assert_eq!(
        conv(json!({"type": "file"}), json!({})),
        json!({"type": "string", "format": "binary"})
    );
    assert_eq!(
        conv(json!({"type": "string", "x-nullable": true}), json!({})),
        json!({"type": ["string", "null"]})
    );
    assert_eq!(
        conv(
            json!({"type": "array", "items": [{"type": "string"}, {"type": "integer"}]}),
            json!({})
        ),
        json!({"type": "array", "prefixItems": [{"type": "string"}, {"type": "integer"}]})
    );
}

#[test]
fn non_json_schema_keywords_and_bad_values_are_dropped() {
    let s = json!({
        "type": "object", "xml": {"name": "x"}, "externalDocs": {"url": "u"},
        "discriminator": {"propertyName": "k"}, "x-vendor": 1, "readOnly": "yes",
        "required": true, "minLength": -1, "maxItems": 2.0, "enum": "a", "multipleOf": 0,
        "properties": {
            "id": {"type": "integer", "required": true},
            "kind": {"type": "strng"},
            "tags": {"type": ["string", "date"]}
        },
        "allOf": []
    });
    assert_eq!(
        conv(s, json!({})),
        json!({
            "type": "object", "maxItems": 2,
            "properties": {"id": {"type": "integer"}, "kind": {}, "tags": {"type": "string"}},
            "required": ["id"]
        })
    );
}

#[test]
fn composition_keywords_keep_their_structure() {
    let out = conv(
        json!({"oneOf": [{"$ref": "#/components/schemas/Cat"}, {"$ref": "#/components/schemas/Dog"}],
               "discriminator": {"propertyName": "kind"}}),
        json!({
            "Pet": {"type": "object", "required": ["kind"], "properties": {"kind": {"type": "string"}}},
            "Cat": {"allOf": [{"$ref": "#/components/schemas/Pet"}, {"type": "object", "properties": {"meow": {"type": "boolean", "default": true}}}]},
            "Dog": {"anyOf": [{"$ref": "#/components/schemas/Pet"}], "not": {"type": "null"}}
        }),
    );
    assert_eq!(out["oneOf"][0]["allOf"][0]["required"], json!(["kind"]));
    assert_eq!(
        out["oneOf"][0]["allOf"][1]["properties"]["meow"]["default"],
        true
    );
    assert_eq!(out["oneOf"][1]["not"], json!({"type": "null"}));
    assert!(out.get("discriminator").is_none());
}

#[test]
fn schemas_are_not_flattened_to_strings() {
    let s = one_op(json!([
        {"name": "limit", "in": "query", "schema": {"type": "integer", "format": "int32", "minimum": 1, "maximum": 100, "default": 20}},
        {"name": "sort", "in": "query", "schema": {"type": "array", "items": {"type": "string", "enum": ["asc", "desc"]}}},
        {"name": "filter", "in": "query", "style": "deepObject", "schema": {"type": "object", "properties": {"a": {"type": "boolean"}}}}
    ]));
    let q = &tool(&s, "op").input_schema["properties"]["query"]["properties"];
    assert_eq!(
        q["limit"],
        json!({"type": "integer", "format": "int32", "minimum": 1, "maximum": 100, "default": 20})
    );
    assert_eq!(q["sort"]["items"]["enum"], json!(["asc", "desc"]));
    assert_eq!(q["filter"]["properties"]["a"]["type"], "boolean");
}
