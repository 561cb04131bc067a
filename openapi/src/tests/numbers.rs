//! Numbers of any size load and are emitted exactly; one unconvertible operation is left
//! out with a warning, never the whole spec.

use serde_json::Value;

use super::*;
use crate::numbers::{is_json_number, protect_json};

/// The same synthetic spec in YAML and JSON: huge numbers in a query parameter, a path
/// parameter, a request body and a component schema, plus one operation that cannot be
/// converted (its path template never closes its `{`).
const YAML: &str = r#"
openapi: 3.1.0
info: {title: numbers, version: 1}
paths:
  /items/{id}:
    parameters:
      - name: id
        in: path
        required: true
        schema: {type: integer, minimum: -9223372036854775809, maximum: 18446744073709551616}
    get:
      operationId: getItem
      parameters:
        - name: limit
          in: query
          schema: {type: integer, minimum: -9223372036854775808, maximum: 18446744073709551615, default: 100000000000000000000000000000}
      responses:
        "200":
          description: ok
          content:
            application/json:
              schema: {$ref: '#/components/schemas/Item'}
    put:
      operationId: putItem
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              properties:
                amount: {type: number, maximum: 1000000000000000000000000000000, multipleOf: 0.000000000000000000000000000001}
                big: {type: integer, enum: [340282366920938463463374607431768211455, -170141183460469231731687303715884105728]}
                item: {$ref: '#/components/schemas/Item'}
      responses: {"204": {description: done}}
  /broken/{id:
    get:
      operationId: brokenTemplate
      responses: {"200": {description: ok}}
components:
  schemas:
    Item:
      type: object
      properties:
        size: {type: integer, maximum: 99999999999999999999999999999999999999, minLength: 18446744073709551616}
        "123456789012345678901234567890": {type: string}
"#;

fn parse_both() -> Vec<ApiSpec> {
    let from_yaml = ApiSpec::parse(YAML.as_bytes(), "numbers.yaml").unwrap();
    let json_text = json_text();
    let from_json = ApiSpec::parse(json_text.as_bytes(), "numbers.json").unwrap();
    vec![from_yaml, from_json]
}

/// The YAML above written as JSON by hand (big numbers as literals: no JSON library in
/// between could keep them).
fn json_text() -> String {
    r##"{"openapi":"3.1.0","info":{"title":"numbers","version":1},"paths":{
  "/items/{id}":{
    "parameters":[{"name":"id","in":"path","required":true,"schema":{"type":"integer","minimum":-9223372036854775809,"maximum":18446744073709551616}}],
    "get":{"operationId":"getItem",
      "parameters":[{"name":"limit","in":"query","schema":{"type":"integer","minimum":-9223372036854775808,"maximum":18446744073709551615,"default":100000000000000000000000000000}}],
      "responses":{"200":{"description":"ok","content":{"application/json":{"schema":{"$ref":"#/components/schemas/Item"}}}}}},
    "put":{"operationId":"putItem","requestBody":{"required":true,"content":{"application/json":{"schema":{"type":"object","properties":{
      "amount":{"type":"number","maximum":1000000000000000000000000000000,"multipleOf":0.000000000000000000000000000001},
      "big":{"type":"integer","enum":[340282366920938463463374607431768211455,-170141183460469231731687303715884105728]},
      "item":{"$ref":"#/components/schemas/Item"}}}}}},
      "responses":{"204":{"description":"done"}}}},
  "/broken/{id":{"get":{"operationId":"brokenTemplate","responses":{"200":{"description":"ok"}}}}},
 "components":{"schemas":{"Item":{"type":"object","properties":{
   "size":{"type":"integer","maximum":99999999999999999999999999999999999999,"minLength":18446744073709551616},
   "123456789012345678901234567890":{"type":"string"}}}}}}"##
        .to_string()
}

#[test]
fn huge_numbers_load_and_are_emitted_exactly() {
    for s in parse_both() {
        assert_eq!(names(&s), ["getitem", "putitem"], "{:?}", s.warnings());
        let get = s.tool("getItem").unwrap().to_mcp_json_text("api-getitem");
        for exact in [
            r#""minimum":-9223372036854775809"#,
            r#""maximum":18446744073709551616"#,
            r#""minimum":-9223372036854775808"#,
            r#""maximum":18446744073709551615"#,
            r#""default":100000000000000000000000000000"#,
            // From the component, through the $ref of the outputSchema.
            r#""maximum":99999999999999999999999999999999999999"#,
            r#""123456789012345678901234567890":{"type":"string"}"#,
        ] {
            assert!(get.contains(exact), "{exact} missing from {get}");
        }
        assert!(get.contains(r#""name":"api-getitem""#));
        let put = s.tool("putItem").unwrap().to_mcp_json_text("putitem");
        for exact in [
            r#""maximum":1000000000000000000000000000000"#,
            // Few digits: a double holds the value, written in its shortest form.
            r#""multipleOf":1e-30"#,
            r#""enum":[340282366920938463463374607431768211455,-170141183460469231731687303715884105728]"#,
            r#""maximum":99999999999999999999999999999999999999"#,
        ] {
            assert!(put.contains(exact), "{exact} missing from {put}");
        }
        // `minLength` beyond u64 is a valid (exact) non-negative integer too.
        assert!(put.contains(r#""minLength":18446744073709551616"#), "{put}");
        // No marks leak, and the text is JSON that parsers read.
        assert!(!get.contains(crate::numbers::MARK) && !put.contains(crate::numbers::MARK));
        for text in [&get, &put] {
            let v: Value = serde_json::from_str(text).unwrap();
            valid_schema(&v["inputSchema"]);
        }
        // The Value view has the nearest doubles, and is valid JSON Schema.
        for t in s.tools() {
            valid_schema(&t.input_schema());
            assert!(!t.to_mcp_json().to_string().contains(crate::numbers::MARK));
        }
    }
}

#[test]
fn an_unconvertible_operation_is_left_out_with_a_warning_naming_it() {
    for s in parse_both() {
        let skipped = s.skipped();
        assert_eq!(skipped.len(), 1, "{skipped:?}");
        assert_eq!(skipped[0].method, "GET");
        assert_eq!(skipped[0].path, "/broken/{id");
        assert_eq!(skipped[0].operation_id.as_deref(), Some("brokenTemplate"));
        assert!(
            skipped[0].reason.contains("unclosed `{`"),
            "{}",
            skipped[0].reason
        );
        let w = s.warnings().join("\n");
        assert!(
            w.contains("operation GET /broken/{id (operationId `brokenTemplate`) left out: the path template `/broken/{id` has an unclosed `{`"),
            "{w}"
        );
        assert!(s.tool("brokentemplate").is_none());
    }
}

#[test]
fn other_unconvertible_operations_are_left_out_alone() {
    let s = spec(oas30(
        serde_json::json!({
            "/ok": {"get": {"operationId": "ok", "responses": {}}},
            "/not-object": {"get": "nope"},
            "/bad-params": {"get": {"operationId": "badParams", "parameters": {"a": 1}, "responses": {}}},
            "/a}b": {"get": {"responses": {}}},
            "/empty/{}": {"get": {"responses": {}}},
            "/big": {"post": {"operationId": "huge", "requestBody": {"content": {"application/json": {"schema": {
                "type": "object",
                "properties": (0..6000).map(|i| (format!("p{i}"), serde_json::json!({"type": "string", "description": "x".repeat(40)}))).collect::<serde_json::Map<_, _>>()
            }}}}, "responses": {}}},
        }),
        serde_json::json!({}),
    ));
    assert_eq!(names(&s), ["ok"]);
    let reasons: Vec<String> = s.skipped().iter().map(ToString::to_string).collect();
    let all = reasons.join("\n");
    assert_eq!(reasons.len(), 5, "{all}");
    for expected in [
        "operation GET /not-object left out: the operation is not an object",
        "operation GET /bad-params (operationId `badParams`) left out: the operation's `parameters` is not a list",
        "operation GET /a}b left out: the path template `/a}b` has a `}` without `{`",
        "operation GET /empty/{} left out: the path template `/empty/{}` has an empty `{}`",
        "operation POST /big (operationId `huge`) left out: its inputSchema is",
    ] {
        assert!(all.contains(expected), "{expected} not in\n{all}");
    }
}

#[test]
fn bounds_beyond_a_double_are_dropped_with_a_warning() {
    let s = spec(oas31(
        serde_json::json!({"/a": {"get": {"operationId": "a", "parameters": [
            {"name": "n", "in": "query", "schema": {"type": "number", "minimum": 0}}
        ], "responses": {}}}}),
        serde_json::json!({}),
    ));
    assert_eq!(names(&s), ["a"]);
    let text = r#"{"openapi":"3.1.0","info":{"title":"t","version":"1"},"paths":{"/a":{"get":{"operationId":"a","parameters":[{"name":"n","in":"query","schema":{"type":"number","minimum":0,"maximum":1e400}}],"responses":{}}}}}"#;
    let s = ApiSpec::parse(text.as_bytes(), "t.json").unwrap();
    let t = s.tool("a").unwrap().to_mcp_json_text("a");
    assert!(
        t.contains(r#""minimum":0"#) && !t.contains("maximum"),
        "{t}"
    );
    assert!(
        s.warnings()
            .iter()
            .any(|w| w.contains("`maximum: 1e400` is beyond the range of a double")),
        "{:?}",
        s.warnings()
    );
}

#[test]
fn json_scanner_marks_only_numbers_it_must() {
    let plain = br#"{"a": [1, -2, 3.5, 1e3, 18446744073709551615, -9223372036854775808], "s": "99999999999999999999999 \" 1e400"}"#;
    assert!(matches!(protect_json(plain), std::borrow::Cow::Borrowed(_)));
    let big = br#"{"a":[18446744073709551616,0.1234567890123456789,1e400,1e-400,2.50]}"#;
    let out = String::from_utf8(protect_json(big).into_owned()).unwrap();
    let m = crate::numbers::MARK;
    assert_eq!(
        out,
        format!(
            r#"{{"a":["{m}18446744073709551616","{m}0.1234567890123456789","{m}1e400","{m}1e-400",2.50]}}"#
        )
    );
    for ok in ["0", "-0", "1.5e-3", "12E+4", "-12.0"] {
        assert!(is_json_number(ok), "{ok}");
    }
    for bad in ["01", "1.", ".5", "1e", "--1", "+1", "1e+", ""] {
        assert!(!is_json_number(bad), "{bad}");
    }
    // A string that merely looks like a marked number but is not one stays a string.
    let s = spec(oas30(
        serde_json::json!({"/a": {"get": {"operationId": "a", "parameters": [
            {"name": "n", "in": "query", "schema": {"type": "string", "default": format!("{m}12x")}}
        ], "responses": {}}}}),
        serde_json::json!({}),
    ));
    let t = s.tool("a").unwrap().to_mcp_json_text("a");
    assert!(t.contains(&format!(r#""default":"{m}12x""#)), "{t}");
}
