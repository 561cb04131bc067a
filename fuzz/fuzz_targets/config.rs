//! The configuration document (`load_config`): what the filter's `on_configure` reads
//! (no environment) and what the sidecar reads (with `os.environ/` resolved), YAML or
//! JSON. Never panics; a document that loads compiles into a policy snapshot.
#![no_main]

use std::collections::HashMap;

use libfuzzer_sys::fuzz_target;
use meshgate_policy::{load_config, PolicySnapshot};

fuzz_target!(|input: &[u8]| {
    let Ok(text) = std::str::from_utf8(input) else {
        return;
    };
    let env: HashMap<String, String> = [
        ("MASTER_KEY", "sk-fuzz-master"),
        ("TOKEN", "fuzz-token"),
        ("EMPTY", ""),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    for env in [None, Some(&env as &dyn meshgate_policy::env::EnvSource)] {
        match load_config(text, env) {
            Ok(cfg) => {
                let snapshot = PolicySnapshot::compile(&cfg);
                let _ = serde_json::to_string(&snapshot);
                for name in cfg.mcp_servers.keys() {
                    let _ = cfg.prefix_of(name);
                }
            }
            Err(e) => {
                let _ = e.to_string();
            }
        }
    }
});
