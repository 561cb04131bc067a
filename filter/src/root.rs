//! The root context: loads the configuration, keeps the policy snapshot in sync with
//! the sidecar (one long-polled sync at a time, protocol in `meshgate_policy::sync`) and
//! creates per-request contexts.

use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::ContextType;
use std::borrow::Cow;
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use meshgate_policy::env::ProcessEnv;
use meshgate_policy::guardrails::GuardrailSet;
use meshgate_policy::shared_secret::{SecretError, SharedSecret};
use meshgate_policy::signing::{body_digest, seal_decision, Nonce, Seal, DECISION_HEADER};
use meshgate_policy::sync::{
    etag, SyncBody, SyncOutcome, SyncState, SYNC_AUTHORITY, SYNC_PATH, SYNC_PRINCIPAL,
    SYNC_TIMEOUT_MS,
};
use meshgate_policy::{load_config, PolicySnapshot, Scope};

use crate::host::{header, AbiHost, Host};
use crate::stream::FilterStream;

/// Tick while no snapshot has been loaded yet, so the gateway is ready quickly; later
/// the tick only retries a sync that failed (a successful one is followed at once by the
/// next long-poll).
const STARTUP_TICK: Duration = Duration::from_millis(100);
const SYNC_TIMEOUT: Duration = Duration::from_millis(SYNC_TIMEOUT_MS);

/// State shared by the root context and the request contexts of one VM (one worker).
pub struct Shared {
    pub snapshot: Option<Rc<PolicySnapshot>>,
    /// The snapshot's built-in guardrails, compiled once when it loads.
    pub guardrails: Rc<GuardrailSet>,
    /// Whether any of them acts before a call (then MCP request bodies are read).
    pub inline_pre: bool,
    /// `meshgate.max_body_bytes`: the largest body the guardrails read.
    pub max_body_bytes: usize,
    pub secret: Vec<u8>,
    /// This VM's random id: the first half of every nonce it seals.
    vm_id: u64,
    next_counter: Cell<u64>,
}

impl Shared {
    pub fn new(vm_id: u64) -> Self {
        Shared {
            snapshot: None,
            guardrails: Rc::new(GuardrailSet::default()),
            inline_pre: false,
            max_body_bytes: usize::MAX,
            secret: Vec::new(),
            vm_id,
            next_counter: Cell::new(0),
        }
    }

    /// Installs a snapshot with its guardrails compiled; a snapshot whose guardrails do
    /// not compile is refused (the last one stays) rather than run without them.
    pub fn load(&mut self, snapshot: PolicySnapshot) -> Result<(), String> {
        let guardrails = GuardrailSet::compile(&snapshot.guardrails).map_err(|e| e.to_string())?;
        self.inline_pre = crate::guard::has_inline_pre(&guardrails);
        self.guardrails = Rc::new(guardrails);
        self.snapshot = Some(Rc::new(snapshot));
        Ok(())
    }

    /// A nonce no other decision of any VM carries (single use at the sidecar).
    pub fn next_nonce(&self) -> Nonce {
        let counter = self.next_counter.get();
        self.next_counter.set(counter.wrapping_add(1));
        Nonce {
            vm: self.vm_id,
            counter,
        }
    }
}

pub struct FilterRoot<H: Host = AbiHost> {
    host: Rc<H>,
    shared: Rc<RefCell<Shared>>,
    config_text: String,
    cluster: String,
    sync_interval: Duration,
    pending_sync: Option<u32>,
    /// SHA-256 of `config_text` (what light syncs report).
    document_hash: String,
    /// The sidecar asked for the whole document (428).
    send_document: bool,
    /// The pending sync carries the whole document.
    sent_document: bool,
}

impl<H: Host> FilterRoot<H> {
    pub fn new(host: H) -> Self {
        let vm_id = host.random_id();
        FilterRoot {
            host: Rc::new(host),
            shared: Rc::new(RefCell::new(Shared::new(vm_id))),
            config_text: String::new(),
            cluster: String::new(),
            sync_interval: Duration::ZERO,
            pending_sync: None,
            document_hash: String::new(),
            send_document: false,
            sent_document: false,
        }
    }

    #[cfg(test)]
    pub fn host(&self) -> &H {
        &self.host
    }

    #[cfg(test)]
    pub fn shared(&self) -> Rc<RefCell<Shared>> {
        Rc::clone(&self.shared)
    }

    fn configure(&mut self) -> Result<(), String> {
        let bytes = self.host.plugin_configuration();
        let text =
            String::from_utf8(bytes).map_err(|_| "configuration is not UTF-8".to_string())?;
        // Validated here without the environment (secrets are resolved by the sidecar),
        // so a bad document is refused when Envoy loads it.
        let config = load_config(&text, None).map_err(|e| e.to_string())?;
        let secret = SharedSecret::from_config(config.meshgate.shared_secret.as_deref(), &ProcessEnv)
            .map_err(|e| match e {
                // Envoy passes chosen host variables to the VM (vm_config.environment_variables).
                SecretError::Unset(name) => format!(
                    "invalid configuration at `meshgate.shared_secret`: environment variable `{name}` is not visible to the filter (list it in vm_config.environment_variables.host_env_keys)"
                ),
                other => format!("invalid configuration at `meshgate.shared_secret`: {other}"),
            })?;
        self.shared.borrow_mut().secret = secret.as_bytes().to_vec();
        self.shared.borrow_mut().max_body_bytes = config.meshgate.max_body_bytes;
        self.cluster = config.meshgate.sidecar_cluster.clone();
        self.sync_interval = Duration::from_millis(config.meshgate.sync_interval_ms);
        self.document_hash = body_digest(text.as_bytes());
        self.config_text = text;
        Ok(())
    }

    fn start_sync(&mut self) {
        if self.pending_sync.is_some() {
            return;
        }
        let shared = self.shared.borrow();
        let holds = shared.snapshot.as_ref().map(|s| s.version.clone());
        // The whole document when the sidecar asked for it or before the first snapshot;
        // otherwise a light report that the sidecar holds until something changes.
        let whole = self.send_document || holds.is_none();
        let (kind, body): (SyncBody, Cow<'_, [u8]>) = if whole {
            (
                SyncBody::Document,
                Cow::Borrowed(self.config_text.as_bytes()),
            )
        } else {
            let state = SyncState {
                document: self.document_hash.clone(),
                holds: holds.clone(),
            };
            (SyncBody::Light, Cow::Owned(state.encode().into_bytes()))
        };
        let body_hash = if whole {
            self.document_hash.clone()
        } else {
            body_digest(&body)
        };
        let principal = SYNC_PRINCIPAL.encode();
        // The sync reaches no MCP server.
        let scope = Scope::Only(Vec::new()).encode();
        let decision = seal_decision(
            &shared.secret,
            "POST",
            SYNC_PATH,
            &Seal {
                ts_ms: self.host.now_ms(),
                nonce: shared.next_nonce(),
                principal: &principal,
                servers: &scope,
                body_sha256: Some(&body_hash),
            },
        );
        let etag = holds.as_deref().map(etag).unwrap_or_default();
        let mut headers = vec![
            (":method", "POST"),
            (":path", SYNC_PATH),
            (":authority", SYNC_AUTHORITY),
            ("content-type", kind.content_type()),
            (DECISION_HEADER, decision.as_str()),
        ];
        if !etag.is_empty() {
            headers.push(("if-none-match", etag.as_str()));
        }
        match self
            .host
            .dispatch_http_call(&self.cluster, headers, &body, SYNC_TIMEOUT)
        {
            Ok(token) => {
                self.pending_sync = Some(token);
                self.sent_document = whole;
            }
            Err(status) => log::warn!(
                "meshgate: policy sync to cluster `{}` failed to start: {status:?}",
                self.cluster
            ),
        }
    }

    /// Handles a sync's answer; returns whether to sync again at once (the long-poll
    /// loop) rather than at the next tick.
    fn finish_sync(&mut self, body_size: usize) -> bool {
        let headers = self.host.call_response_headers();
        let status: u16 = header(&headers, ":status")
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        match SyncOutcome::from_status(status) {
            SyncOutcome::Unchanged => {
                self.send_document = false;
                true
            }
            SyncOutcome::Snapshot => {
                let body = self.host.call_response_body(body_size);
                match serde_json::from_slice::<PolicySnapshot>(&body) {
                    Ok(snapshot) => {
                        let first = self.shared.borrow().snapshot.is_none();
                        let (version, servers, guardrails) = (
                            snapshot.version.clone(),
                            snapshot.servers.len(),
                            snapshot.guardrails.len(),
                        );
                        if let Err(e) = self.shared.borrow_mut().load(snapshot) {
                            log::error!("meshgate: policy snapshot {version} refused: its guardrails do not compile: {e}");
                            return false;
                        }
                        log::info!(
                            "meshgate: policy snapshot {version} loaded ({servers} servers, {guardrails} built-in guardrails)"
                        );
                        self.send_document = false;
                        if first {
                            self.set_tick(self.sync_interval);
                        }
                        true
                    }
                    Err(e) => {
                        log::error!("meshgate: sidecar sent an unreadable policy snapshot: {e}");
                        false
                    }
                }
            }
            SyncOutcome::DocumentRequired => {
                // Asked again right after sending it: something is wrong; retry at the tick.
                let again = !self.sent_document;
                self.send_document = true;
                again
            }
            SyncOutcome::Conflict | SyncOutcome::Failed => {
                let body = self.host.call_response_body(body_size.min(2048));
                log::warn!(
                    "meshgate: policy sync answered HTTP {status}: {} (keeping the last snapshot)",
                    String::from_utf8_lossy(&body)
                );
                false
            }
        }
    }

    fn set_tick(&self, period: Duration) {
        self.host.set_tick_period(period);
    }
}

impl<H: Host + 'static> Context for FilterRoot<H> {
    fn on_http_call_response(
        &mut self,
        token_id: u32,
        _num_headers: usize,
        body_size: usize,
        _num_trailers: usize,
    ) {
        if self.pending_sync == Some(token_id) {
            self.pending_sync = None;
            if self.finish_sync(body_size) {
                self.start_sync();
            }
        }
    }
}

impl<H: Host + 'static> RootContext for FilterRoot<H> {
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
        Some(Box::new(FilterStream::new(
            Rc::clone(&self.host),
            Rc::clone(&self.shared),
        )))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}
