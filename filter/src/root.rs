//! The root context: loads the configuration, keeps the policy snapshot in sync with
//! the sidecar (one callout per tick at most) and creates per-request contexts.

use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::ContextType;
use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use meshgate_policy::env::{env_reference, ProcessEnv};
use meshgate_policy::signing::{seal_decision, DECISION_HEADER};
use meshgate_policy::{load_config, PolicySnapshot};

use crate::host;
use crate::stream::FilterStream;

/// Path of the sidecar's sync endpoint, and the principal the filter signs it as.
pub const SYNC_PATH: &str = "/_meshgate/v1/sync";
pub const FILTER_PRINCIPAL: &str = "_filter";
/// Tick while no snapshot has been loaded yet, so the gateway is ready quickly.
const STARTUP_TICK: Duration = Duration::from_millis(100);
const SYNC_TIMEOUT: Duration = Duration::from_secs(5);

/// State shared by the root context and the request contexts of one VM (one worker).
#[derive(Default)]
pub struct Shared {
    pub snapshot: Option<Rc<PolicySnapshot>>,
    pub secret: Vec<u8>,
}

#[derive(Default)]
pub struct FilterRoot {
    shared: Rc<RefCell<Shared>>,
    config_text: String,
    cluster: String,
    sync_interval: Duration,
    pending_sync: Option<u32>,
}

impl FilterRoot {
    fn configure(&mut self) -> Result<(), String> {
        let bytes = host::plugin_configuration();
        let text =
            String::from_utf8(bytes).map_err(|_| "configuration is not UTF-8".to_string())?;
        // Validated here without the environment (secrets are resolved by the sidecar),
        // so a bad document is refused when Envoy loads it.
        let config = load_config(&text, None).map_err(|e| e.to_string())?;
        let secret = match config.meshgate.shared_secret.as_deref() {
            None => return Err("invalid configuration at `meshgate.shared_secret`: required".to_string()),
            Some(value) => match env_reference(value) {
                // Envoy passes chosen host variables to the VM (vm_config.environment_variables).
                Some(name) => meshgate_policy::env::EnvSource::var(&ProcessEnv, name).ok_or_else(|| {
                    format!(
                        "invalid configuration at `meshgate.shared_secret`: environment variable `{name}` is not visible to the filter (list it in vm_config.environment_variables.host_env_keys)"
                    )
                })?,
                None => value.to_string(),
            },
        };
        if secret.len() < 16 {
            return Err(
                "invalid configuration at `meshgate.shared_secret`: must be at least 16 characters"
                    .to_string(),
            );
        }
        self.shared.borrow_mut().secret = secret.into_bytes();
        self.cluster = config.meshgate.sidecar_cluster.clone();
        self.sync_interval = Duration::from_millis(config.meshgate.sync_interval_ms);
        self.config_text = text;
        Ok(())
    }

    fn start_sync(&mut self) {
        if self.pending_sync.is_some() {
            return;
        }
        let shared = self.shared.borrow();
        let etag = shared
            .snapshot
            .as_ref()
            .map(|s| format!("\"{}\"", s.version))
            .unwrap_or_default();
        let decision = seal_decision(
            &shared.secret,
            "POST",
            SYNC_PATH,
            host::now_ms(),
            FILTER_PRINCIPAL,
            "",
        );
        let mut headers = vec![
            (":method", "POST"),
            (":path", SYNC_PATH),
            (":authority", "meshgate-sidecar"),
            ("content-type", "application/yaml"),
            (DECISION_HEADER, decision.as_str()),
        ];
        if !etag.is_empty() {
            headers.push(("if-none-match", etag.as_str()));
        }
        match host::dispatch_http_call(
            &self.cluster,
            headers,
            self.config_text.as_bytes(),
            SYNC_TIMEOUT,
        ) {
            Ok(token) => self.pending_sync = Some(token),
            Err(status) => log::warn!(
                "meshgate: policy sync to cluster `{}` failed to start: {status:?}",
                self.cluster
            ),
        }
    }

    fn finish_sync(&mut self, body_size: usize) {
        let headers = host::call_response_headers();
        let status = host::header(&headers, ":status").unwrap_or("0").to_string();
        match status.as_str() {
            "304" => {}
            "200" => {
                let body = host::call_response_body(body_size);
                match serde_json::from_slice::<PolicySnapshot>(&body) {
                    Ok(snapshot) => {
                        let first = self.shared.borrow().snapshot.is_none();
                        log::info!(
                            "meshgate: policy snapshot {} loaded ({} servers)",
                            snapshot.version,
                            snapshot.servers.len()
                        );
                        self.shared.borrow_mut().snapshot = Some(Rc::new(snapshot));
                        if first {
                            self.set_tick(self.sync_interval);
                        }
                    }
                    Err(e) => {
                        log::error!("meshgate: sidecar sent an unreadable policy snapshot: {e}")
                    }
                }
            }
            other => {
                let body = host::call_response_body(body_size.min(2048));
                log::warn!(
                    "meshgate: policy sync answered HTTP {other}: {} (keeping the last snapshot)",
                    String::from_utf8_lossy(&body)
                );
            }
        }
    }

    fn set_tick(&self, period: Duration) {
        host::set_tick_period(period);
    }
}

impl Context for FilterRoot {
    fn on_http_call_response(
        &mut self,
        token_id: u32,
        _num_headers: usize,
        body_size: usize,
        _num_trailers: usize,
    ) {
        if self.pending_sync == Some(token_id) {
            self.pending_sync = None;
            self.finish_sync(body_size);
        }
    }
}

impl RootContext for FilterRoot {
    fn on_configure(&mut self, _plugin_configuration_size: usize) -> bool {
        match self.configure() {
            Ok(()) => {
                self.set_tick(STARTUP_TICK);
                true
            }
            Err(message) => {
                log::error!("meshgate: {message}");
                false
            }
        }
    }

    fn on_tick(&mut self) {
        self.start_sync();
    }

    fn create_http_context(&self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(FilterStream {
            shared: Rc::clone(&self.shared),
        }))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}
