//! OpenAPI loading (`ApiSpec::parse`, JSON or YAML, Swagger 2.0 / OpenAPI 3.0 / 3.1) and
//! what follows from a loaded spec: the tool list, requests built from `tools/call`
//! arguments, responses turned into tool results. Input: the spec, optionally followed by
//! a NUL byte and a JSON object of arguments. Never panics; tool names keep their
//! documented shape; a built request never leaves the configured base URL.
#![no_main]

use std::collections::HashSet;

use libfuzzer_sys::fuzz_target;
use meshgate_openapi::{response_to_result, ApiSpec, MAX_NAME_LEN};
use serde_json::{Map, Value};

const BASE: &str = "http://127.0.0.1:9/api";

fuzz_target!(|input: &[u8]| {
    let (spec, raw_args) = match input.iter().position(|b| *b == 0) {
        Some(i) => (&input[..i], &input[i + 1..]),
        None => (input, &[][..]),
    };
    let Ok(api) = ApiSpec::parse(spec, "https://user:pw@specs.example/openapi.json") else {
        return;
    };
    let _ = (
        api.title(),
        api.api_version(),
        api.spec_version(),
        api.warnings(),
    );
    let _ = api.default_base_url(Some("https://specs.example/v1/openapi.json"));
    let _ = api.default_base_url(None);
    let args: Map<String, Value> = serde_json::from_slice(raw_args).unwrap_or_default();
    let mut seen = HashSet::new();
    for tool in api.tools().iter().take(64) {
        let name = tool.name.as_str();
        assert!(
            !name.is_empty()
                && name.len() <= MAX_NAME_LEN
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b)),
            "tool name `{name}` breaks the naming rule"
        );
        assert!(seen.insert(name.to_string()), "tool name `{name}` twice");
        for args in [&Map::new(), &args] {
            if let Ok(req) = api.build_request(name, args, BASE) {
                let rest = req.url.strip_prefix(BASE);
                assert!(
                    matches!(
                        rest.and_then(|r| r.chars().next()),
                        None | Some('/') | Some('?')
                    ) && rest.is_some(),
                    "request URL `{}` left the base URL",
                    req.url
                );
            }
        }
    }
    for (status, ct) in [
        (200, Some("application/json")),
        (500, Some("text/plain")),
        (200, None),
    ] {
        let _ = response_to_result(status, ct, raw_args);
    }
});
