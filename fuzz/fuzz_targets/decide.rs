//! The filter's `decide` on arbitrary request headers and paths (what any client on the
//! network can send). Never panics; a forwarded request carries only the master
//! principal or a known key's, never more servers than that key has, and a rejection
//! never echoes the presented key.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use meshgate_policy::auth::hash_key;
use meshgate_policy::ratelimit::LocalRateGate;
use meshgate_policy::snapshot::SnapshotKey;
use meshgate_policy::{decide, Decision, GatewayConfig, PolicySnapshot};

const NOW: u64 = 1_790_000_000_000;

fn snapshot() -> Option<&'static PolicySnapshot> {
    static SNAPSHOT: OnceLock<Option<PolicySnapshot>> = OnceLock::new();
    SNAPSHOT
        .get_or_init(|| {
            let cfg = GatewayConfig::parse(
                r#"
general_settings: {master_key: sk-master}
mcp_servers:
  github_mcp: {url: "http://127.0.0.1:1/mcp", transport: http, alias: github, access_groups: [dev]}
  jira: {url: "http://127.0.0.1:2/mcp", transport: http, access_groups: [dev, ops], allowed_tools: [search]}
  local: {command: demo, disallowed_tools: [rm]}
  open: {command: demo, allow_all_keys: true}
"#,
            )
            .ok()?;
            let key = |k: &str, id: &str, servers: Vec<u16>| SnapshotKey {
                hash: hash_key(k),
                id: id.into(),
                servers,
                ..Default::default()
            };
            let mut limited = key("sk-limited", "lim", vec![0]);
            limited.rpm_limit = Some(2);
            let mut blocked = key("sk-blocked", "blk", vec![0]);
            blocked.blocked = true;
            let mut expired = key("sk-expired", "exp", vec![1]);
            expired.expires_ms = Some(NOW - 1);
            let keys = vec![
                key("sk-ab", "ab", vec![0, 1]),
                key("sk-none", "none", vec![]),
                limited,
                blocked,
                expired,
            ];
            Some(PolicySnapshot::compile_with_keys(&cfg, keys))
        })
        .as_ref()
}

fuzz_target!(|input: &[u8]| {
    let Some(snapshot) = snapshot() else {
        return;
    };
    let text = String::from_utf8_lossy(input);
    // First line: the path; then `name: value` header lines.
    let mut lines = text.split('\n');
    let path = lines.next().unwrap_or("/mcp");
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim_start().to_string()))
        .collect();
    let mut gate = LocalRateGate::default();
    for _ in 0..3 {
        match decide(Some(snapshot), path, &headers, NOW, &mut gate) {
            Decision::Forward(f) => {
                let allowed: Option<Vec<String>> = if f.principal.is_master() {
                    None
                } else {
                    let id = f.principal.key_id();
                    let key = snapshot.keys.iter().find(|k| Some(k.id.as_str()) == id);
                    let Some(key) = key else {
                        panic!("forwarded as unknown principal `{}`", f.principal);
                    };
                    assert!(!key.blocked, "blocked key forwarded");
                    assert!(
                        key.expires_ms.is_none_or(|e| e > NOW),
                        "expired key forwarded"
                    );
                    let mut names: Vec<String> = key
                        .servers
                        .iter()
                        .filter_map(|i| snapshot.servers.get(*i as usize))
                        .map(|s| s.name.clone())
                        .collect();
                    names.extend(
                        snapshot
                            .servers
                            .iter()
                            .filter(|s| s.allow_all_keys)
                            .map(|s| s.name.clone()),
                    );
                    Some(names)
                };
                if let meshgate_policy::Scope::Only(names) = &f.servers {
                    for s in names.iter().map(String::as_str) {
                        assert!(
                            snapshot.servers.iter().any(|x| x.name == s),
                            "forwarded to unknown server `{s}`"
                        );
                        if let Some(allowed) = &allowed {
                            assert!(allowed.iter().any(|a| a == s), "key widened to `{s}`");
                        }
                    }
                } else {
                    assert!(allowed.is_none(), "a virtual key got `*`");
                }
            }
            Decision::Reject(r) => {
                let body = r.body();
                for (name, value) in &headers {
                    let is_key_header = name == "authorization" || name == "x-litellm-api-key";
                    let token = value.trim_start_matches("Bearer ").trim();
                    // Only key-shaped values: a short or common word may be part of
                    // the fixed message text itself.
                    // (A name the client put in the path or another header may be echoed.)
                    let elsewhere = path.contains(token)
                        || headers.iter().any(|(n, v)| {
                            n != "authorization" && n != "x-litellm-api-key" && v.contains(token)
                        });
                    if is_key_header && token.starts_with("sk-") && token.len() >= 6 && !elsewhere {
                        assert!(!body.contains(token), "rejection echoed the key: {body}");
                    }
                }
            }
        }
    }
});
