//! LiteLLM's unauthenticated probes (and `/mcp/enabled`). The filter lets them through without a key (and
//! answers readiness itself with 503 until it has a policy); here liveness is "the
//! process answers", readiness "a configuration is loaded and the store answers".

use http::StatusCode;
use std::time::Duration;

use crate::body::{self, Body};
use crate::state::AppState;
use meshgate_policy::paths::Probe;

/// How long readiness waits for the store before calling it unreachable.
const STORE_PROBE_TIMEOUT: Duration = Duration::from_secs(2);

pub async fn answer(state: &AppState, probe: Probe) -> http::Response<Body> {
    match probe {
        Probe::McpEnabled => return body::json(StatusCode::OK, r#"{"enabled":true}"#),
        Probe::Liveness => return body::json(StatusCode::OK, r#"{"status":"I'm alive!"}"#),
        Probe::Readiness => {}
    }
    let config_loaded = !state.runtime().config_hash.is_empty();
    let store_ok = matches!(
        tokio::time::timeout(STORE_PROBE_TIMEOUT, state.store.revision()).await,
        Ok(Ok(_))
    );
    let ready = config_loaded && store_ok;
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let answer = serde_json::json!({
        "status": if ready { "healthy" } else { "unhealthy" },
        "config": if config_loaded { "loaded" } else { "not loaded" },
        "db": if store_ok { "connected" } else { "not connected" },
    });
    body::json(status, answer.to_string())
}
