//! A host for unit tests: records what the filter asks of Envoy and answers from what the
//! test set up (request headers and body, callout answers, shared data).

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::time::Duration;

use crate::abi::{HostStatus, RawHeaders, CAS_MISMATCH};
use crate::host::{Host, SharedValue};

/// A callout the filter started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Callout {
    pub token: u32,
    pub cluster: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Callout {
    pub fn header(&self, name: &str) -> Option<&str> {
        crate::host::header(&self.headers, name)
    }
}

/// A local reply the filter sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalReply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

#[derive(Default)]
pub struct MockHost {
    pub now_ms: Cell<u64>,
    pub configuration: RefCell<Vec<u8>>,
    pub tick: Cell<Option<Duration>>,
    pub request_headers: RefCell<Vec<(String, String)>>,
    pub request_body: RefCell<Vec<u8>>,
    /// Bodies the filter put in place of the request's.
    pub replaced_bodies: RefCell<Vec<Vec<u8>>>,
    pub counters: RefCell<HashMap<String, u64>>,
    /// Properties the filter set (the last value of each).
    pub properties: RefCell<HashMap<String, Vec<u8>>>,
    pub response_headers: RefCell<Vec<(String, String)>>,
    pub replies: RefCell<Vec<LocalReply>>,
    pub callouts: RefCell<Vec<Callout>>,
    /// Refuse to start callouts (the host said no).
    pub refuse_callouts: Cell<bool>,
    /// The answer the next `on_http_call_response` reads.
    pub answer_headers: RefCell<Vec<(String, String)>>,
    pub answer_body: RefCell<Vec<u8>>,
    shared: RefCell<HashMap<String, (Vec<u8>, u32)>>,
}

impl MockHost {
    pub fn new(now_ms: u64) -> Self {
        let host = MockHost::default();
        host.now_ms.set(now_ms);
        host
    }

    /// Sets the answer to the pending callout: a status and a body.
    pub fn answer(&self, status: u16, body: &[u8]) {
        *self.answer_headers.borrow_mut() = if status == 0 {
            Vec::new() // a timeout or reset: Envoy sends no headers
        } else {
            vec![(":status".to_string(), status.to_string())]
        };
        *self.answer_body.borrow_mut() = body.to_vec();
    }

    pub fn last_callout(&self) -> Option<Callout> {
        self.callouts.borrow().last().cloned()
    }

    /// The audit record the filter left for the access log.
    pub fn audit(&self) -> Option<meshgate_policy::audit::AuditRecord> {
        let props = self.properties.borrow();
        let bytes = props.get(meshgate_policy::audit::PROPERTY)?;
        meshgate_policy::audit::AuditRecord::parse(bytes).ok()
    }

    pub fn request_header(&self, name: &str) -> Option<String> {
        crate::host::header(&self.request_headers.borrow(), name).map(str::to_string)
    }
}

impl Host for MockHost {
    fn now_ms(&self) -> u64 {
        self.now_ms.get()
    }

    fn random_id(&self) -> u64 {
        0x5eed
    }

    fn plugin_configuration(&self) -> Vec<u8> {
        self.configuration.borrow().clone()
    }

    fn set_tick_period(&self, period: Duration) {
        self.tick.set(Some(period));
    }

    fn request_headers(&self) -> RawHeaders {
        self.request_headers
            .borrow()
            .iter()
            .map(|(n, v)| (n.as_bytes().to_vec(), v.as_bytes().to_vec()))
            .collect()
    }

    fn remove_request_header(&self, name: &str) {
        self.request_headers
            .borrow_mut()
            .retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    }

    fn set_request_header(&self, name: &str, value: &str) {
        self.remove_request_header(name);
        self.request_headers
            .borrow_mut()
            .push((name.to_string(), value.to_string()));
    }

    fn request_body(&self, size: usize) -> Vec<u8> {
        let body = self.request_body.borrow();
        body[..size.min(body.len())].to_vec()
    }

    fn set_request_body(&self, _size: usize, body: &[u8]) {
        self.replaced_bodies.borrow_mut().push(body.to_vec());
        *self.request_body.borrow_mut() = body.to_vec();
    }

    fn increment_counter(&self, name: &str) {
        *self
            .counters
            .borrow_mut()
            .entry(name.to_string())
            .or_default() += 1;
    }

    fn send_local_reply(&self, status: u16, headers: &[(&str, &str)], body: &str) {
        self.replies.borrow_mut().push(LocalReply {
            status,
            headers: headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
            body: body.to_string(),
        });
    }

    fn response_headers(&self) -> RawHeaders {
        self.response_headers
            .borrow()
            .iter()
            .map(|(n, v)| (n.as_bytes().to_vec(), v.as_bytes().to_vec()))
            .collect()
    }

    fn remove_response_header(&self, name: &str) {
        self.response_headers
            .borrow_mut()
            .retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    }

    fn set_property(&self, name: &str, value: &[u8]) {
        self.properties
            .borrow_mut()
            .insert(name.to_string(), value.to_vec());
    }

    fn dispatch_http_call(
        &self,
        cluster: &str,
        headers: Vec<(&str, &str)>,
        body: &[u8],
        _timeout: Duration,
    ) -> Result<u32, String> {
        if self.refuse_callouts.get() {
            return Err("BadArgument".to_string());
        }
        let mut callouts = self.callouts.borrow_mut();
        let token = callouts.len() as u32 + 1;
        callouts.push(Callout {
            token,
            cluster: cluster.to_string(),
            headers: headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
            body: body.to_vec(),
        });
        Ok(token)
    }

    fn call_response_headers(&self) -> Vec<(String, String)> {
        self.answer_headers.borrow().clone()
    }

    fn call_response_body(&self, max: usize) -> Vec<u8> {
        let body = self.answer_body.borrow();
        body[..max.min(body.len())].to_vec()
    }

    fn get_shared_data(&self, key: &str) -> Result<SharedValue, HostStatus> {
        Ok(match self.shared.borrow().get(key) {
            Some((value, cas)) => (Some(value.clone()), Some(*cas)),
            None => (None, None),
        })
    }

    fn set_shared_data(&self, key: &str, value: &[u8], cas: Option<u32>) -> Result<(), HostStatus> {
        let mut shared = self.shared.borrow_mut();
        let current = shared.get(key).map(|(_, c)| *c);
        if cas.is_some() && cas != current {
            return Err(HostStatus(CAS_MISMATCH));
        }
        let next = current.unwrap_or(0) + 1;
        shared.insert(key.to_string(), (value.to_vec(), next));
        Ok(())
    }
}
