use super::*;
use crate::load_config;

fn specs(yaml: &str) -> Vec<GuardrailSpec> {
    load_config(yaml, None).unwrap().guardrail_specs
}

fn err(yaml: &str) -> String {
    load_config(yaml, None).unwrap_err().to_string()
}

const FIVE_LINES: &str = r#"
guardrails:
  - guardrail_name: no-pii
    litellm_params:
      guardrail: meshgate
      mode: [pre_mcp_call, post_mcp_call]
      default_on: true
      pii_entities_config: {CREDIT_CARD: BLOCK, AWS_ACCESS_KEY: BLOCK, EMAIL_ADDRESS: MASK}
"#;

#[test]
fn a_builtin_guardrail_loads_with_modes_entities_and_default_on() {
    let g = &specs(FIVE_LINES)[0];
    assert_eq!(g.name, "no-pii");
    assert_eq!(g.provider, Provider::Builtin);
    assert_eq!(g.modes, [Mode::PreMcpCall, Mode::PostMcpCall]);
    assert!(g.default_on && g.acts_in(Phase::Pre) && g.acts_in(Phase::Post));
    assert!(!g.acts_in(Phase::During));
    assert_eq!(
        g.entities.as_deref().unwrap(),
        [
            ("AWS_ACCESS_KEY".to_string(), Action::Block),
            ("CREDIT_CARD".to_string(), Action::Block),
            ("EMAIL_ADDRESS".to_string(), Action::Mask),
        ]
    );
    // Every mode of the built-in provider is enforced (pre by the filter, during and
    // post by the sidecar): no warning about it, and the section is not "not acted on".
    let cfg = load_config(FIVE_LINES, None).unwrap();
    assert!(
        !cfg.warnings.iter().any(|w| w.contains("no-pii")),
        "{:?}",
        cfg.warnings
    );
    assert!(!cfg
        .warnings
        .iter()
        .any(|w| w.starts_with("loaded but not acted on") && w.contains("guardrails")));
    // The spec survives the snapshot's JSON.
    let json = serde_json::to_string(g).unwrap();
    assert_eq!(&serde_json::from_str::<GuardrailSpec>(&json).unwrap(), g);
}

#[test]
fn litellm_guardrails_that_load_today_still_load() {
    let yaml = r#"
guardrails:
  - guardrail_name: pii
    litellm_params: {guardrail: presidio, mode: pre_mcp_call, api_key: os.environ/PRESIDIO,
      presidio_analyzer_api_base: "http://analyzer:3000", output_parse_pii: true,
      pii_entities_config: {PERSON: MASK, CREDIT_CARD: BLOCK, MY_RECOGNIZER: MASK}}
  - guardrail_name: aporia-pre
    litellm_params: {guardrail: aporia, mode: during_call, api_key: x, patterns: {odd: shape}}
    guardrail_info: {description: anything}
  - guardrail_name: llm-only
    litellm_params: {guardrail: presidio, mode: [post_call, logging_only]}
  - guardrail_name: filter
    litellm_params:
      guardrail: generic_guardrail_api
      mode: during_mcp_call
      api_base: https://guard.example/check
      timeout: 0.5
      fail_open: true
  - guardrail_name: prompt-default
    litellm_params: {guardrail: presidio, mode: pre_call, default_on: true}
"#;
    let cfg = load_config(yaml, None).unwrap();
    let g = &cfg.guardrail_specs;
    assert_eq!(g.len(), 5);
    match &g[0].provider {
        Provider::Presidio(e) => {
            assert_eq!(e.api_base.as_deref(), Some("http://analyzer:3000"));
            assert_eq!(e.api_key.as_deref(), Some("os.environ/PRESIDIO"));
            assert_eq!(e.timeout_ms, DEFAULT_EXTERNAL_TIMEOUT_MS);
            assert!(!e.fail_open, "external guardrails fail closed by default");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        g[1].provider,
        Provider::Unsupported {
            provider: "aporia".into()
        }
    );
    match &g[3].provider {
        Provider::GenericApi(e) => {
            assert_eq!(e.timeout_ms, 500);
            assert!(e.fail_open);
        }
        other => panic!("{other:?}"),
    }
    // Every kind survives the snapshot's JSON.
    for spec in g {
        let json = serde_json::to_string(spec).unwrap();
        assert_eq!(&serde_json::from_str::<GuardrailSpec>(&json).unwrap(), spec);
    }
    // LiteLLM remaps pre_call to pre_mcp_call for tool calls.
    assert!(g[4].acts_in(Phase::Pre));
    let w = cfg.warnings.join("\n");
    for needle in [
        "guardrail `aporia-pre`: provider `aporia` is not run by meshgate",
        "guardrail `aporia-pre`: mode during_call acts on LLM calls",
        "guardrail `llm-only`: mode post_call, logging_only acts on LLM calls",
        "`MY_RECOGNIZER` is not one of Presidio's predefined entities",
    ] {
        assert!(w.contains(needle), "{needle} in {w}");
    }
    assert!(!w.contains("`PERSON`"));
}

#[test]
fn patterns_and_allow_lists_load() {
    let yaml = r#"
guardrails:
  - guardrail_name: ids
    litellm_params:
      guardrail: meshgate
      mode: pre_mcp_call
      pii_entities_config: {EMPLOYEE_ID: MASK, EMAIL_ADDRESS: MASK}
      patterns:
        - {pattern_type: regex, name: EMPLOYEE_ID, pattern: 'EMP-\d{6}'}
        - {name: PROJECT_CODE, pattern: 'PRJ[0-9]{4}', action: block}
      allow_list: [support@example.com]
      allow_patterns: ['.*@example\.org']
"#;
    let g = &specs(yaml)[0];
    assert_eq!(g.patterns.len(), 2);
    assert_eq!(
        g.patterns[0].action,
        Action::Mask,
        "from pii_entities_config"
    );
    assert_eq!(g.patterns[1].action, Action::Block);
    assert_eq!(g.allow_list, ["support@example.com"]);
}

#[test]
fn errors_name_the_field() {
    let base = |params: &str| {
        format!(
            "guardrails:\n  - guardrail_name: a\n    litellm_params: {{guardrail: presidio, mode: pre_mcp_call}}\n  - guardrail_name: b\n    litellm_params: {{guardrail: presidio, mode: pre_mcp_call}}\n  - guardrail_name: c\n    litellm_params: {params}\n"
        )
    };
    for (params, field, words) in [
        (
            "{guardrail: meshgate, mode: pre_mcp_call, pii_entities_config: {CREDIT_KARD: BLOCK}}",
            "guardrails[2].litellm_params.pii_entities_config.CREDIT_KARD",
            "unknown entity `CREDIT_KARD`",
        ),
        (
            "{guardrail: meshgate, mode: pre_mcp_call, pii_entities_config: {CREDIT_CARD: DROP}}",
            "guardrails[2].litellm_params.pii_entities_config.CREDIT_CARD",
            "BLOCK or MASK",
        ),
        (
            "{guardrail: meshgate, mode: pre_mpc_call}",
            "guardrails[2].litellm_params.mode",
            "`pre_mpc_call` is not a guardrail mode",
        ),
        (
            "{guardrail: meshgate, mode: [pre_mcp_call, sometimes]}",
            "guardrails[2].litellm_params.mode[1]",
            "`sometimes`",
        ),
        (
            "{guardrail: meshgate}",
            "guardrails[2].litellm_params.mode",
            "required",
        ),
        (
            "{mode: pre_mcp_call}",
            "guardrails[2].litellm_params.guardrail",
            "required",
        ),
        (
            "{guardrail: meshgate, mode: pre_mcp_call, patterns: [{name: ID, pattern: 'a(b', action: MASK}]}",
            "guardrails[2].litellm_params.patterns[0].pattern",
            "not a valid regular expression",
        ),
        (
            "{guardrail: meshgate, mode: pre_mcp_call, patterns: [{name: ID, pattern: 'x'}]}",
            "guardrails[2].litellm_params.patterns[0].action",
            "BLOCK or MASK is required",
        ),
        (
            "{guardrail: meshgate, mode: pre_mcp_call, patterns: [{name: JWT, pattern: 'x', action: MASK}]}",
            "guardrails[2].litellm_params.patterns[0].name",
            "already defined",
        ),
        (
            "{guardrail: meshgate, mode: pre_mcp_call, patterns: [{name: lower, pattern: 'x', action: MASK}]}",
            "guardrails[2].litellm_params.patterns[0].name",
            "entity name",
        ),
        (
            "{guardrail: meshgate, mode: pre_mcp_call, patterns: [{pattern_type: prebuilt, pattern_name: us_ssn}]}",
            "guardrails[2].litellm_params.patterns[0].pattern_type",
            "only `regex`",
        ),
        (
            "{guardrail: meshgate, mode: pre_mcp_call, allow_patterns: ['[']}",
            "guardrails[2].litellm_params.allow_patterns[0]",
            "not a valid regular expression",
        ),
        (
            "{guardrail: presidio, mode: pre_mcp_call, patterns: []}",
            "guardrails[2].litellm_params.patterns",
            "`guardrail: meshgate` only",
        ),
        (
            "{guardrail: presidio, mode: pre_mcp_call, timeout: -1}",
            "guardrails[2].litellm_params.timeout",
            "seconds",
        ),
        (
            "{guardrail: presidio, mode: pre_mcp_call, fail_open: maybe}",
            "guardrails[2].litellm_params.fail_open",
            "true or false",
        ),
        (
            "{guardrail: meshgate, mode: pre_mcp_call, default_on: yes please}",
            "guardrails[2].litellm_params.default_on",
            "true or false",
        ),
    ] {
        let e = err(&base(params));
        assert!(e.contains(&format!("`{field}`")) && e.contains(words), "{params}: {e}");
    }
    let dup = "guardrails:\n  - {guardrail_name: a, litellm_params: {guardrail: meshgate, mode: pre_mcp_call}}\n  - {guardrail_name: a, litellm_params: {guardrail: meshgate, mode: pre_mcp_call}}\n";
    let e = err(dup);
    assert!(
        e.contains("`guardrails[1].guardrail_name`") && e.contains("defined twice"),
        "{e}"
    );
    let e = err("guardrails:\n  - {litellm_params: {guardrail: meshgate, mode: pre_mcp_call}}\n");
    assert!(e.contains("`guardrails[0].guardrail_name`"), "{e}");
    let e = err("guardrails:\n  - {guardrail_name: x}\n");
    assert!(e.contains("`guardrails[0].litellm_params`"), "{e}");
}
