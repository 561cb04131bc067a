//! One client request in flight: where messages related to it go (its SSE response),
//! what its client can answer, and whether the client cancelled it.

use std::sync::Arc;
use tokio::sync::{mpsc, watch};

use super::caps::ClientCaps;

pub struct Exchange {
    /// Messages for the client's response stream; None when the client reads JSON only.
    to_client: Option<mpsc::UnboundedSender<Vec<u8>>>,
    pub caps: ClientCaps,
    cancelled: watch::Sender<bool>,
}

impl Exchange {
    /// A new exchange; the receiver is there when the client can take a stream.
    pub fn new(
        caps: ClientCaps,
        streaming: bool,
    ) -> (Arc<Exchange>, Option<mpsc::UnboundedReceiver<Vec<u8>>>) {
        let (tx, rx) = if streaming {
            let (tx, rx) = mpsc::unbounded_channel();
            (Some(tx), Some(rx))
        } else {
            (None, None)
        };
        let exchange = Exchange {
            to_client: tx,
            caps,
            cancelled: watch::Sender::new(false),
        };
        (Arc::new(exchange), rx)
    }

    /// Queues a JSON-RPC message for the client; false when it cannot be delivered.
    pub fn send(&self, message: Vec<u8>) -> bool {
        self.to_client
            .as_ref()
            .is_some_and(|tx| tx.send(message).is_ok())
    }

    pub fn can_stream(&self) -> bool {
        self.to_client.as_ref().is_some_and(|tx| !tx.is_closed())
    }

    pub fn cancel(&self) {
        self.cancelled.send_replace(true);
    }

    /// Resolves when the client cancels (never otherwise).
    pub async fn cancelled(&self) {
        let mut rx = self.cancelled.subscribe();
        let _ = rx.wait_for(|c| *c).await;
    }

    /// Resolves when the client's stream is gone (never for JSON-only exchanges).
    pub async fn stream_closed(&self) {
        match &self.to_client {
            Some(tx) => tx.closed().await,
            None => std::future::pending().await,
        }
    }
}

/// Resolves when `exchange` (if any) is cancelled.
pub async fn cancelled(exchange: Option<&Arc<Exchange>>) {
    match exchange {
        Some(e) => e.cancelled().await,
        None => std::future::pending().await,
    }
}
