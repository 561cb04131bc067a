//! The open streams of the legacy HTTP+SSE transport on this sidecar, by session id
//! (`legacy_sse.rs` opens them and answers the POSTs that name them).

use bytes::Bytes;
use std::collections::HashMap;
use std::sync::atomic::AtomicU8;
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;

use crate::verify::Principal;

/// Open legacy streams on this sidecar, by session id.
#[derive(Default)]
pub struct LegacySessions {
    open: Mutex<HashMap<String, Arc<LegacyStream>>>,
}

/// One open stream: whose it is and where its events go.
pub struct LegacyStream {
    pub principal: Principal,
    pub tx: mpsc::Sender<Bytes>,
    /// The client's capabilities, known once it initialized.
    pub caps: AtomicU8,
}

impl LegacySessions {
    pub fn insert(&self, id: &str, stream: LegacyStream) {
        if let Ok(mut open) = self.open.lock() {
            open.insert(id.to_string(), Arc::new(stream));
        }
    }

    pub fn remove(&self, id: &str) {
        if let Ok(mut open) = self.open.lock() {
            open.remove(id);
        }
    }

    pub fn get(&self, id: &str) -> Option<Arc<LegacyStream>> {
        self.open.lock().ok()?.get(id).cloned()
    }
}
