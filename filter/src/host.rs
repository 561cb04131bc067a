//! What the filter needs from its host, as a trait: [`AbiHost`] is Envoy (the ABI calls in
//! `abi.rs`, none of which can panic); tests drive the root and stream contexts with a
//! mock host (`crate::mock`) on the build machine.

use std::time::Duration;

use crate::abi::{self, HostStatus, RawHeaders};

/// A shared-data value and its compare-and-swap token (`None`: the key is not set).
pub type SharedValue = (Option<Vec<u8>>, Option<u32>);

pub trait Host {
    /// Host clock in milliseconds since the Unix epoch (0 if the host cannot tell).
    fn now_ms(&self) -> u64;
    /// 64 bits that differ between VMs (this VM's nonce prefix).
    fn random_id(&self) -> u64;
    fn plugin_configuration(&self) -> Vec<u8>;
    fn set_tick_period(&self, period: Duration);

    /// The request's headers as bytes: values need not be UTF-8 (Envoy passes obs-text).
    fn request_headers(&self) -> RawHeaders;
    fn remove_request_header(&self, name: &str);
    fn set_request_header(&self, name: &str, value: &str);
    /// The first `size` bytes of the request body (empty if the host has none).
    fn request_body(&self, size: usize) -> Vec<u8>;
    /// Replaces the whole request body (`size`: its current length) with `body`.
    fn set_request_body(&self, size: usize, body: &[u8]);
    fn send_local_reply(&self, status: u16, headers: &[(&str, &str)], body: &str);
    /// The response's headers as bytes.
    fn response_headers(&self) -> RawHeaders;
    fn remove_response_header(&self, name: &str);
    /// Sets a property of the stream (Envoy: filter state `wasm.<name>`, which the
    /// access log carries).
    fn set_property(&self, name: &str, value: &[u8]);
    /// Adds one to the counter `name` (created on first use).
    fn increment_counter(&self, name: &str);

    /// Starts an HTTP callout; its token routes the answer to `on_http_call_response`.
    fn dispatch_http_call(
        &self,
        cluster: &str,
        headers: Vec<(&str, &str)>,
        body: &[u8],
        timeout: Duration,
    ) -> Result<u32, String>;
    /// The callout answer's headers; values that are not UTF-8 are dropped.
    fn call_response_headers(&self) -> Vec<(String, String)>;
    /// Up to `max` bytes of the callout answer's body.
    fn call_response_body(&self, max: usize) -> Vec<u8>;

    /// Envoy's shared data (every worker of this Envoy sees it).
    fn get_shared_data(&self, key: &str) -> Result<SharedValue, HostStatus>;
    fn set_shared_data(&self, key: &str, value: &[u8], cas: Option<u32>) -> Result<(), HostStatus>;
}

/// Envoy, through the proxy-wasm ABI. Failures are logged and read as "nothing".
#[derive(Debug, Clone, Copy, Default)]
pub struct AbiHost;

impl Host for AbiHost {
    fn now_ms(&self) -> u64 {
        abi::current_time_nanos().map_or(0, |ns| ns / 1_000_000)
    }

    /// WASI `random_get`; if the host has none, the clock's nanoseconds hashed — unique
    /// enough, since the nonce only has to be unique, not secret.
    fn random_id(&self) -> u64 {
        let mut bytes = [0u8; 8];
        if getrandom::getrandom(&mut bytes).is_err() {
            let now = abi::current_time_nanos().unwrap_or_default();
            let digest = meshgate_policy::signing::body_digest(&now.to_le_bytes());
            return u64::from_str_radix(digest.get(..16).unwrap_or_default(), 16)
                .unwrap_or_default();
        }
        u64::from_le_bytes(bytes)
    }

    fn plugin_configuration(&self) -> Vec<u8> {
        abi::buffer(abi::PLUGIN_CONFIGURATION, usize::MAX).unwrap_or_else(|status| {
            log::error!("meshgate: cannot read the plugin configuration: {status:?}");
            Vec::new()
        })
    }

    fn set_tick_period(&self, period: Duration) {
        let ms = u32::try_from(period.as_millis()).unwrap_or(u32::MAX);
        if let Err(status) = abi::set_tick_period_ms(ms) {
            log::error!("meshgate: cannot set tick period: {status:?}");
        }
    }

    fn request_headers(&self) -> RawHeaders {
        abi::header_pairs(abi::HTTP_REQUEST_HEADERS).unwrap_or_else(|status| {
            log::error!("meshgate: cannot read the request headers: {status:?}");
            Vec::new()
        })
    }

    fn remove_request_header(&self, name: &str) {
        if let Err(status) = abi::remove_header(abi::HTTP_REQUEST_HEADERS, name) {
            log::warn!("meshgate: could not remove header {name}: {status:?}");
        }
    }

    fn set_request_header(&self, name: &str, value: &str) {
        if let Err(status) = abi::replace_header(abi::HTTP_REQUEST_HEADERS, name, value) {
            log::warn!("meshgate: could not set header {name}: {status:?}");
        }
    }

    fn request_body(&self, size: usize) -> Vec<u8> {
        abi::buffer(abi::HTTP_REQUEST_BODY, size).unwrap_or_default()
    }

    fn set_request_body(&self, size: usize, body: &[u8]) {
        if let Err(status) = abi::set_buffer(abi::HTTP_REQUEST_BODY, size, body) {
            log::error!("meshgate: could not replace the request body: {status:?}");
        }
    }

    fn response_headers(&self) -> RawHeaders {
        abi::header_pairs(abi::HTTP_RESPONSE_HEADERS).unwrap_or_else(|status| {
            log::warn!("meshgate: cannot read the response headers: {status:?}");
            Vec::new()
        })
    }

    fn remove_response_header(&self, name: &str) {
        if let Err(status) = abi::remove_header(abi::HTTP_RESPONSE_HEADERS, name) {
            log::warn!("meshgate: could not remove response header {name}: {status:?}");
        }
    }

    fn set_property(&self, name: &str, value: &[u8]) {
        if let Err(status) = abi::set_property(name, value) {
            log::warn!("meshgate: could not set property {name}: {status:?}");
        }
    }

    /// Metric ids are cached per VM: defining is a host call with a name lookup.
    fn increment_counter(&self, name: &str) {
        thread_local! {
            static IDS: std::cell::RefCell<std::collections::HashMap<String, u32>> =
                std::cell::RefCell::new(std::collections::HashMap::new());
        }
        let id = IDS.with(|ids| {
            if let Some(id) = ids.borrow().get(name) {
                return Some(*id);
            }
            match abi::define_metric(abi::METRIC_COUNTER, name) {
                Ok(id) => {
                    ids.borrow_mut().insert(name.to_string(), id);
                    Some(id)
                }
                Err(status) => {
                    log::warn!("meshgate: cannot define metric {name}: {status:?}");
                    None
                }
            }
        });
        if let Some(id) = id {
            if let Err(status) = abi::increment_metric(id, 1) {
                log::warn!("meshgate: cannot increment metric {name}: {status:?}");
            }
        }
    }

    fn send_local_reply(&self, status: u16, headers: &[(&str, &str)], body: &str) {
        if let Err(err) = abi::send_local_response(u32::from(status), headers, body.as_bytes()) {
            log::error!("meshgate: could not send local reply: {err:?}");
        }
    }

    /// This one stays on the SDK's `hostcalls`: its dispatcher must record the token to
    /// route `on_http_call_response` (an unknown token is a panic in the SDK). The SDK
    /// panics on a status other than OK, BadArgument and InternalFailure; the
    /// deployment's `failure_policy` (reload) covers that.
    fn dispatch_http_call(
        &self,
        cluster: &str,
        headers: Vec<(&str, &str)>,
        body: &[u8],
        timeout: Duration,
    ) -> Result<u32, String> {
        proxy_wasm::hostcalls::dispatch_http_call(cluster, headers, Some(body), vec![], timeout)
            .map_err(|status| format!("{status:?}"))
    }

    fn call_response_headers(&self) -> Vec<(String, String)> {
        abi::header_pairs(abi::HTTP_CALL_RESPONSE_HEADERS)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|(n, v)| Some((String::from_utf8(n).ok()?, String::from_utf8(v).ok()?)))
            .collect()
    }

    fn call_response_body(&self, max: usize) -> Vec<u8> {
        abi::buffer(abi::HTTP_CALL_RESPONSE_BODY, max).unwrap_or_default()
    }

    fn get_shared_data(&self, key: &str) -> Result<SharedValue, HostStatus> {
        abi::get_shared_data(key)
    }

    fn set_shared_data(&self, key: &str, value: &[u8], cas: Option<u32>) -> Result<(), HostStatus> {
        abi::set_shared_data(key, value, cas)
    }
}

/// The first value of a header (names compare case-insensitively).
pub fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}
