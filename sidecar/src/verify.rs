//! Refuses every request the filter did not sign, and reads what it decided.

use http::HeaderMap;
use std::time::{SystemTime, UNIX_EPOCH};

use meshgate_policy::decision::ALL_SERVERS;
use meshgate_policy::signing::{
    is_internal_header, verify, PRINCIPAL_HEADER, SERVERS_HEADER, SIGNATURE_HEADER,
};
use meshgate_policy::SignatureError;

/// What the filter decided about this request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub name: String,
    pub scope: ServerScope,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerScope {
    All,
    Only(Vec<String>),
}

impl ServerScope {
    pub fn allows(&self, server: &str) -> bool {
        match self {
            ServerScope::All => true,
            ServerScope::Only(names) => names.iter().any(|n| n == server),
        }
    }
}

pub fn verify_request(
    secret: &[u8],
    method: &str,
    path: &str,
    headers: &HeaderMap,
) -> Result<Principal, SignatureError> {
    let mut internal: Vec<(&str, &str)> = Vec::with_capacity(4);
    for (name, value) in headers {
        if is_internal_header(name.as_str()) && name.as_str() != SIGNATURE_HEADER {
            internal.push((
                name.as_str(),
                value.to_str().map_err(|_| SignatureError::Malformed)?,
            ));
        }
    }
    let signature = headers.get(SIGNATURE_HEADER).and_then(|v| v.to_str().ok());
    verify(secret, method, path, &internal, signature, now_ms())?;
    let get = |n: &str| internal.iter().find(|(k, _)| *k == n).map(|(_, v)| *v);
    let name = get(PRINCIPAL_HEADER)
        .ok_or(SignatureError::Malformed)?
        .to_string();
    let scope = match get(SERVERS_HEADER) {
        Some(ALL_SERVERS) => ServerScope::All,
        Some(list) => ServerScope::Only(
            list.split(',')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
        ),
        None => ServerScope::Only(Vec::new()),
    };
    Ok(Principal { name, scope })
}

pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}
