//! Scanning, masking, verdicts and selection over whole documents; the corpus test.

use super::*;
use crate::load_config;
use serde_json::{json, Value};

fn set(yaml: &str) -> GuardrailSet {
    GuardrailSet::compile(&load_config(yaml, None).unwrap().guardrail_specs).unwrap()
}

const GUARDS: &str = r#"
guardrails:
  - guardrail_name: no-secrets
    litellm_params:
      guardrail: meshgate
      mode: [pre_mcp_call, post_mcp_call]
      default_on: true
      pii_entities_config: {CREDIT_CARD: BLOCK, AWS_ACCESS_KEY: BLOCK, EMAIL_ADDRESS: MASK, PHONE_NUMBER: MASK}
      allow_list: [support@example.com]
  - guardrail_name: ids
    litellm_params:
      guardrail: meshgate
      mode: during_mcp_call
      patterns: [{name: EMPLOYEE_ID, pattern: 'EMP-\d{6}', action: MASK}]
  - guardrail_name: ext
    litellm_params: {guardrail: presidio, mode: pre_mcp_call}
"#;

#[test]
fn values_not_keys_are_scanned_recursively_and_reported_by_path() {
    let s = set(GUARDS);
    let all: Vec<&Guardrail> = s.iter().collect();
    let args = json!({
        "jane@example.com": "key is not scanned",
        "user": {"emails": ["ok", "jane@example.com"], "card": 4111111111111111u64},
        "odd key": ["EMP-123456"],
        "n": 42
    });
    let found: Vec<(String, &str, &str)> = scan_value(&all, &args)
        .into_iter()
        .map(|f| (f.path, f.guardrail, f.entity))
        .collect();
    assert_eq!(
        found,
        [
            ("$['odd key'][0]".to_string(), "ids", "EMPLOYEE_ID"),
            ("$.user.card".to_string(), "no-secrets", "CREDIT_CARD"),
            (
                "$.user.emails[1]".to_string(),
                "no-secrets",
                "EMAIL_ADDRESS"
            ),
        ]
    );
}

#[test]
fn block_wins_and_names_guardrail_and_entity_never_the_value() {
    let s = set(GUARDS);
    let g = s.get("no-secrets").unwrap();
    let args = json!({"to": "jane@example.com", "pay": {"with": "card 4111-1111-1111-1111"}});
    match check_arguments(&[g], &args) {
        Verdict::Block(f) => {
            assert_eq!(
                (f.guardrail, f.entity, f.path.as_str()),
                ("no-secrets", "CREDIT_CARD", "$.pay.with")
            );
            let text = texts::mcp_block_text(&texts::blocked_message(f.guardrail, f.entity));
            assert!(!text.contains("4111"), "{text}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn mask_replaces_each_match_and_keeps_the_rest() {
    let s = set(GUARDS);
    let guards: Vec<&Guardrail> = vec![s.get("no-secrets").unwrap(), s.get("ids").unwrap()];
    let args = json!({
        "note": "mail jane@example.com or call +1 415 555 0132 — ünïcode stays, EMP-654321 too",
        "cc": ["support@example.com"],
        "n": 7
    });
    match check_arguments(&guards, &args) {
        Verdict::Mask { value, masked } => {
            assert_eq!(
                value,
                json!({
                    "note": "mail <EMAIL_ADDRESS> or call <PHONE_NUMBER> — ünïcode stays, <EMPLOYEE_ID> too",
                    "cc": ["support@example.com"],
                    "n": 7
                })
            );
            assert_eq!(masked.len(), 3);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        check_arguments(&guards, &json!({"a": ["plain", 1, null]})),
        Verdict::Pass
    );
}

#[test]
fn card_numbers_as_json_numbers_are_masked_as_strings() {
    let s = set("guardrails:\n  - {guardrail_name: m, litellm_params: {guardrail: meshgate, mode: pre_mcp_call}}\n");
    let all: Vec<&Guardrail> = s.iter().collect();
    match check_arguments(&all, &json!({"card": 5555555555554444u64, "qty": 3})) {
        Verdict::Mask { value, .. } => {
            assert_eq!(value, json!({"card": "<CREDIT_CARD>", "qty": 3}))
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn results_are_scanned_in_text_and_structured_content_only() {
    let s = set(GUARDS);
    let g = s.get("no-secrets").unwrap();
    let result = json!({
        "content": [
            {"type": "text", "text": "owner: jane@example.com"},
            {"type": "image", "data": "jane@example.com", "mimeType": "image/png"},
            {"type": "resource", "resource": {"uri": "file:///a", "text": "call 415-555-0132"}}
        ],
        "structuredContent": {"owner": {"email": "jane@example.com"}},
        "_meta": {"by": "jane@example.com"}
    });
    match check_result(&[g], &result) {
        Verdict::Mask { value, masked } => {
            let paths: Vec<&str> = masked.iter().map(|f| f.path.as_str()).collect();
            assert_eq!(
                paths,
                [
                    "$.content[0].text",
                    "$.content[2].resource.text",
                    "$.structuredContent.owner.email"
                ]
            );
            assert_eq!(value["content"][0]["text"], "owner: <EMAIL_ADDRESS>");
            assert_eq!(value["content"][1]["data"], "jane@example.com");
            assert_eq!(
                value["content"][2]["resource"]["text"],
                "call <PHONE_NUMBER>"
            );
            assert_eq!(
                value["structuredContent"]["owner"]["email"],
                "<EMAIL_ADDRESS>"
            );
            assert_eq!(value["_meta"]["by"], "jane@example.com");
        }
        other => panic!("{other:?}"),
    }
    let leak = json!({"content": [{"type": "text", "text": "key AKIAIOSFODNN7EXAMPLE"}]});
    assert!(
        matches!(check_result(&[g], &leak), Verdict::Block(f) if f.entity == "AWS_ACCESS_KEY" && f.path == "$.content[0].text")
    );
}

#[test]
fn selection_takes_default_on_attached_and_requested_and_refuses_unknown_names() {
    let s = set(GUARDS);
    let names = |sel: &Selected| {
        sel.guardrails
            .iter()
            .map(|g| g.name().to_string())
            .collect::<Vec<_>>()
    };
    let none: Vec<String> = vec![];
    assert_eq!(names(&select(&s, &[], &none).unwrap()), ["no-secrets"]);
    let key = vec!["ids".to_string()];
    let team = vec!["ids".to_string(), "no-secrets".to_string()];
    let sel = select(&s, &[&key, &team], &none).unwrap();
    assert_eq!(names(&sel), ["no-secrets", "ids"]);
    assert_eq!(sel.builtin_in_phase(Phase::During).len(), 1);
    assert_eq!(sel.builtin_in_phase(Phase::Pre)[0].name(), "no-secrets");
    let sel = select(&s, &[], &["ext".to_string()]).unwrap();
    assert_eq!(names(&sel), ["no-secrets", "ext"]);
    assert!(sel.builtin_in_phase(Phase::Pre).len() == 1 && sel.in_phase(Phase::Pre).len() == 2);
    let e = select(
        &s,
        &[],
        &["nope".to_string(), "ids".to_string(), "zz".to_string()],
    )
    .unwrap_err();
    assert_eq!(
        e,
        GuardrailError::UnknownRequested {
            names: vec!["nope".into(), "zz".into()]
        }
    );
    assert_eq!(e.to_string(), "unknown guardrails requested: nope, zz");
    let gone = vec!["removed".to_string()];
    assert!(matches!(
        select(&s, &[&gone], &none),
        Err(GuardrailError::UnknownAttached { .. })
    ));
}

/// Beside the repository, or beside the directory of worktrees; CI has `shared/`
/// beside the clone (the same lookup as openapi/tests/corpus.rs).
fn corpus_dir() -> std::path::PathBuf {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let beside = root.join("../../shared/openapi");
    let beside_worktrees = root.join("../../../shared/openapi");
    if !beside.is_dir() && beside_worktrees.is_dir() {
        return beside_worktrees;
    }
    beside
}

/// Every string value under an `example`/`examples`/`default`/`enum` key.
fn example_values<'a>(v: &'a Value, in_example: bool, out: &mut Vec<&'a str>) {
    match v {
        Value::String(s) if in_example => out.push(s),
        Value::Array(items) => items
            .iter()
            .for_each(|i| example_values(i, in_example, out)),
        Value::Object(map) => {
            for (k, item) in map {
                let ex = in_example
                    || matches!(
                        k.as_str(),
                        "example" | "examples" | "default" | "enum" | "x-example"
                    );
                example_values(item, ex, out);
            }
        }
        _ => {}
    }
}

#[test]
fn no_false_positives_on_the_openapi_corpus_examples_and_random_ids() {
    let s = set("guardrails:\n  - {guardrail_name: all, litellm_params: {guardrail: meshgate, mode: pre_mcp_call}}\n");
    let g = s.get("all").unwrap();
    let dir = corpus_dir();
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            matches!(
                p.extension().and_then(|e| e.to_str()),
                Some("json" | "yaml")
            )
        })
        .collect();
    files.sort();
    assert!(files.len() >= 10, "the corpus is there");
    // The corpus's examples include real-looking personal data where a field holds
    // it: e-mail fields (Xero contacts, Slack profiles, the petstore), Twilio's phone
    // numbers (`+14158675309`, `(415) 867-5309`, also as `whatsapp:`/`sip:` URIs),
    // Xero's US tax numbers (`123-45-6780`), IPs (`192.168.1.1`, `127.0.0.1`) and
    // Slack's sample bot token. Those are found — rightly — when the example value is
    // that entity as a whole (after an optional `scheme:`); any other finding (part
    // of a longer text, or any card, IBAN, key or JWT) fails the test.
    let genuine = |entity: &str, hit: &str, value: &str| {
        let whole = value == hit || value.split_once(':').is_some_and(|(_, rest)| rest == hit);
        whole
            && matches!(
                entity,
                "EMAIL_ADDRESS" | "PHONE_NUMBER" | "US_SSN" | "IP_ADDRESS" | "SLACK_TOKEN"
            )
    };
    let mut scanned = 0;
    let mut unexpected = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        let doc: Value = if file.extension().is_some_and(|e| e == "json") {
            serde_json::from_str(&text).unwrap()
        } else {
            serde_yaml_ng::from_str(&text).unwrap()
        };
        let mut values = Vec::new();
        example_values(&doc, false, &mut values);
        for v in values {
            scanned += 1;
            let mut out = Vec::new();
            g.find(v, &mut out);
            for f in out {
                let hit = &v[f.start..f.end];
                if !genuine(f.entity, hit, v) {
                    unexpected.push(format!("{}: {} {hit:?} in {v:?}", file.display(), f.entity));
                }
            }
        }
    }
    assert!(scanned > 1000, "{scanned} example values");
    assert!(
        unexpected.is_empty(),
        "{} findings:\n{}",
        unexpected.len(),
        unexpected.join("\n")
    );

    // Random UUIDs, hex ids (git SHAs, SHA-256), base64 and decimal ids, timestamps.
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for _ in 0..20_000 {
        let (a, b, c) = (next(), next(), next());
        let uuid = format!(
            "{:08x}-{:04x}-4{:03x}-a{:03x}-{:012x}",
            a >> 32,
            a & 0xffff,
            b & 0xfff,
            (b >> 20) & 0xfff,
            c & 0xffff_ffff_ffff
        );
        let sha1 = format!("{a:016x}{b:016x}{:08x}", c >> 32);
        let sha256 = format!("{a:016x}{b:016x}{c:016x}{:016x}", next());
        let ts = format!(
            "2026-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
            a % 12 + 1,
            b % 28 + 1,
            c % 24,
            a % 60,
            b % 60,
            c % 1000
        );
        let id = format!("{}", a % 1_000_000_000_000);
        let version = format!("{}.{}.{}", a % 20, b % 50, c % 200);
        let urn = format!("urn:sha1:{sha1}");
        for v in [uuid, sha1, sha256, ts, id, version, urn] {
            let mut out = Vec::new();
            g.find(&v, &mut out);
            assert!(out.is_empty(), "{v}: {out:?}");
        }
    }
}

#[test]
fn allow_patterns_match_the_whole_found_value() {
    let s = set("guardrails:\n  - guardrail_name: m\n    litellm_params: {guardrail: meshgate, mode: pre_mcp_call, allow_patterns: ['.*@example\\.org', '10\\.0\\.0\\.\\d+']}\n");
    let all: Vec<&Guardrail> = s.iter().collect();
    let args = json!([
        "ops@example.org",
        "ops@example.org.evil.com",
        "10.0.0.7",
        "10.0.0.7 and 10.1.0.7"
    ]);
    let paths: Vec<(String, &str)> = scan_value(&all, &args)
        .into_iter()
        .map(|f| (f.path, f.entity))
        .collect();
    assert_eq!(
        paths,
        [
            ("$[1]".to_string(), "EMAIL_ADDRESS"),
            ("$[3]".to_string(), "IP_ADDRESS")
        ]
    );
}

/// Random texts from the characters the detectors react to (and multi-byte ones):
/// no panic, every range on char boundaries, masking keeps valid text.
#[test]
fn detectors_never_panic_and_ranges_fall_on_char_boundaries() {
    let s = set("guardrails:\n  - guardrail_name: m\n    litellm_params: {guardrail: meshgate, mode: pre_mcp_call, patterns: [{name: P, pattern: '[é-]\\d', action: MASK}]}\n");
    let g = s.get("m").unwrap();
    let alphabet: Vec<char> = "0123456789 -.:@+()_/AKISxogphsktej=JyIé€\n-----BEGIN PRIVATE KEY"
        .chars()
        .collect();
    let mut seed: u64 = 42;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for _ in 0..30_000 {
        let len = (next() % 60) as usize;
        let text: String = (0..len)
            .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
            .collect();
        let mut out = Vec::new();
        g.find(&text, &mut out);
        for f in &out {
            assert!(
                f.start < f.end && text.is_char_boundary(f.start) && text.is_char_boundary(f.end),
                "{text:?} {f:?}"
            );
        }
        let _ = matcher::mask_text(&text, &out);
    }
}
