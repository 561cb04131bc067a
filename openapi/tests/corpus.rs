//! Every spec of the shared corpus loads, every tool has a valid unique name and valid JSON
//! Schemas; the small specs' full tool lists match checked-in snapshots
//! (regenerate with `UPDATE_SNAPSHOTS=1 cargo test -p meshgate-openapi --test corpus`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use meshgate_openapi::ApiSpec;
use serde_json::Value;

fn corpus_dir() -> PathBuf {
    // Beside the repository, or beside the directory of worktrees (`wt/<name>`).
    let beside = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/openapi");
    let beside_worktrees = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/openapi");
    if !beside.is_dir() && beside_worktrees.is_dir() {
        return beside_worktrees;
    }
    beside
}

fn load(file: &str) -> ApiSpec {
    let bytes = std::fs::read(corpus_dir().join(file)).unwrap();
    ApiSpec::parse(&bytes, file).unwrap_or_else(|e| panic!("{file}: {e}"))
}

fn valid_name(n: &str) -> bool {
    !n.is_empty()
        && n.len() <= 64
        && n.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-')
}

fn check_schema(file: &str, tool: &str, what: &str, schema: &Value) {
    if let Err(e) = jsonschema::draft202012::new(schema) {
        panic!("{file}: tool {tool}: {what} is not a valid JSON Schema 2020-12: {e}");
    }
}

/// Expected tool counts: one per operation (no webhooks, no callbacks).
const CORPUS: [(&str, usize); 13] = [
    ("oai-v2.0-petstore-expanded.yaml", 4),
    ("oai-v3.0-petstore.json", 3),
    ("oai-v3.1-webhook-example.json", 0),
    ("swagger-petstore-v3.yaml", 19),
    ("discord-openapi.json", 242),
    ("slack-web-openapi-v2.json", 174),
    ("twilio-api-v2010.json", 197),
    ("xero-accounting.yaml", 235),
    ("harbor-swagger.yaml", 203),
    ("sap-cloud-sdk-test-service.json", 31),
    ("readme-3.0-parameters-style.json", 25),
    ("readme-3.1-security.json", 15),
    ("redocly-museum.yaml", 8),
];

#[test]
fn every_corpus_spec_loads_with_valid_tools() {
    let mut files: Vec<String> = std::fs::read_dir(corpus_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|f| f.ends_with(".json") || f.ends_with(".yaml") || f.ends_with(".yml"))
        .collect();
    files.sort();
    assert!(files.len() >= 13, "corpus not found at {:?}", corpus_dir());
    for file in &files {
        let started = std::time::Instant::now();
        let spec = load(file);
        let elapsed = started.elapsed();
        let mut names = HashSet::new();
        let mut bytes = 0usize;
        let mut with_output = 0usize;
        for t in spec.tools() {
            assert!(valid_name(&t.name), "{file}: bad tool name {:?}", t.name);
            assert!(names.insert(t.name.clone()), "{file}: duplicate {}", t.name);
            assert!(
                !t.description.is_empty(),
                "{file}: {} has no description",
                t.name
            );
            let input = t.input_schema();
            assert_eq!(input["type"], "object");
            check_schema(file, &t.name, "inputSchema", &input);
            if let Some(o) = &t.output_schema() {
                assert_eq!(o["type"], "object", "{file}: {}", t.name);
                check_schema(file, &t.name, "outputSchema", o);
                with_output += 1;
            }
            bytes += t.to_mcp_json().to_string().len();
        }
        println!(
            "{file}: {} tools ({} with outputSchema), {} KiB of tool JSON, {} warnings, loaded in {:?}",
            spec.tools().len(),
            with_output,
            bytes / 1024,
            spec.warnings().len(),
            elapsed
        );
        for w in spec.warnings().iter().take(5) {
            println!("  warning: {w}");
        }
        if let Some((_, expected)) = CORPUS.iter().find(|(f, _)| f == file) {
            assert_eq!(spec.tools().len(), *expected, "{file}: tool count");
        }
    }
}

/// The small specs whose whole tool list is snapshotted.
const SNAPSHOTTED: [&str; 8] = [
    "oai-v2.0-petstore-expanded.yaml",
    "oai-v3.0-petstore.json",
    "oai-v3.1-webhook-example.json",
    "swagger-petstore-v3.yaml",
    "redocly-museum.yaml",
    "readme-3.0-parameters-style.json",
    "readme-3.1-security.json",
    "sap-cloud-sdk-test-service.json",
];

fn snapshot_of(file: &str) -> Value {
    let spec = load(file);
    serde_json::json!({
        "spec": file,
        "specVersion": spec.spec_version(),
        "defaultBaseUrl": spec.default_base_url(None),
        "warnings": spec.warnings(),
        "tools": spec.tools().iter().map(|t| t.to_mcp_json()).collect::<Vec<_>>(),
    })
}

#[test]
fn small_specs_match_snapshots() {
    let update = std::env::var_os("UPDATE_SNAPSHOTS").is_some_and(|v| v == "1");
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots");
    let mut stale = Vec::new();
    for file in SNAPSHOTTED {
        let actual = serde_json::to_string_pretty(&snapshot_of(file)).unwrap() + "\n";
        let path = dir.join(format!("{file}.tools.json"));
        if update {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, &actual).unwrap();
            continue;
        }
        let expected = std::fs::read_to_string(&path).unwrap_or_default();
        if expected != actual {
            std::fs::write(path.with_extension("json.new"), &actual).unwrap();
            stale.push(file);
        }
    }
    assert!(
        stale.is_empty(),
        "snapshots differ for {stale:?} (see tests/snapshots/*.new); \
         rerun with UPDATE_SNAPSHOTS=1 to accept"
    );
}
