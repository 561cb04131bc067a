//! A provider's event stream read event by event: the round's request sent with
//! `stream: true`, an error status read as LiteLLM words it, then the `data:` of each
//! event as it arrives (a chunk that does not come within the provider's timeout, or a
//! stream that breaks off, is an error, never a hang). An Anthropic model's stream is
//! translated event by event into `chat.completion.chunk`s
//! (`providers::anthropic::stream`), a chat-only model's `/responses` stream into
//! Responses events (`providers::chat_only::stream`), so the loop reads one shape.

use http_body_util::BodyExt;
use hyper::body::Incoming;
use serde_json::Value;
use std::collections::VecDeque;
use std::time::Duration;

use crate::llm::error::LlmError;
use crate::llm::providers::{self, Provider, Translator};
use crate::upstream::HttpClient;

/// Largest single event the loop reads.
const MAX_EVENT_BYTES: usize = 16 * 1024 * 1024;

pub struct Events {
    body: Incoming,
    parser: Parser,
    idle: Duration,
    model: String,
    ended: bool,
    /// Anthropic's events → chat chunks, and the chunks not yet handed out.
    translate: Option<Translator>,
    ready: VecDeque<String>,
}

/// Sends one round's request (`body` has `stream: true`) to `{api_base}{path}`;
/// `include_usage`: an Anthropic model's Chat stream ends with a usage chunk even when
/// the request did not ask for one (the loop sums it).
pub async fn open(
    client: &HttpClient,
    provider: &Provider,
    path: &str,
    body: &Value,
    include_usage: bool,
) -> Result<Events, LlmError> {
    let (resp, translate) =
        providers::open_stream(client, provider, path, body, include_usage).await?;
    Ok(Events {
        body: resp.into_body(),
        parser: Parser::default(),
        idle: provider.timeout,
        model: provider.model_name.clone(),
        ended: false,
        translate,
        ready: VecDeque::new(),
    })
}

impl Events {
    /// The next event's data (its `data:` lines joined); None when the stream ended.
    pub async fn next(&mut self) -> Result<Option<String>, LlmError> {
        loop {
            if let Some(chunk) = self.ready.pop_front() {
                return Ok(Some(chunk));
            }
            if let Some(data) = self.parser.take() {
                if data.is_empty() {
                    continue;
                }
                match &mut self.translate {
                    None => return Ok(Some(data)),
                    Some(t) => {
                        self.ready.extend(t.translate(&data));
                        continue;
                    }
                }
            }
            if self.ended {
                // A translation may owe events at the end (a chat stream's last).
                if let Some(t) = &mut self.translate {
                    self.ready.extend(t.finish());
                    if !self.ready.is_empty() {
                        continue;
                    }
                }
                return Ok(None);
            }
            let frame = match tokio::time::timeout(self.idle, self.body.frame()).await {
                Err(_) => {
                    return Err(LlmError::timeout(format!(
                        "model `{}`: the provider's stream was idle for {} ms",
                        self.model,
                        self.idle.as_millis()
                    )))
                }
                Ok(None) => {
                    self.ended = true;
                    // A last event without its blank line still counts.
                    self.parser.push(b"\n\n");
                    continue;
                }
                Ok(Some(Err(e))) => {
                    return Err(LlmError::provider(format!(
                        "model `{}`: the provider's stream broke off ({e})",
                        self.model
                    )))
                }
                Ok(Some(Ok(frame))) => frame,
            };
            if let Some(data) = frame.data_ref() {
                self.parser.push(data);
                if self.parser.buf.len() > MAX_EVENT_BYTES {
                    return Err(LlmError::provider(format!(
                        "model `{}`: an event of the provider's stream exceeds {MAX_EVENT_BYTES} bytes",
                        self.model
                    )));
                }
            }
        }
    }
}

/// Splits bytes into events (blank-line separated; `\r` dropped).
#[derive(Default)]
struct Parser {
    buf: Vec<u8>,
    /// How far `buf` is known to hold no blank line: a large event arriving in small
    /// chunks is searched once, not again from its start at every chunk.
    searched: usize,
}

impl Parser {
    fn push(&mut self, data: &[u8]) {
        self.buf
            .extend(data.iter().copied().filter(|b| *b != b'\r'));
    }

    /// One complete event out of the buffer: its data lines (empty for a comment or an
    /// event without data).
    fn take(&mut self) -> Option<String> {
        let from = self.searched.saturating_sub(1);
        let Some(found) = self.buf[from..].windows(2).position(|w| w == b"\n\n") else {
            self.searched = self.buf.len();
            return None;
        };
        let end = from + found;
        self.searched = 0;
        let block: Vec<u8> = self.buf.drain(..end + 2).collect();
        let text = String::from_utf8_lossy(&block);
        let data: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("data:"))
            .map(|d| d.strip_prefix(' ').unwrap_or(d))
            .collect();
        Some(data.join("\n"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_split_at_blank_lines_in_any_framing() {
        let mut p = Parser::default();
        p.push(b": comment\r\n\r\nevent: x\r\ndata: {\"a\":");
        assert_eq!(p.take().as_deref(), Some(""), "a comment has no data");
        assert_eq!(p.take(), None, "the second event is not complete yet");
        p.push(b"1}\n\ndata: line1\ndata:line2\n\ndata: [DONE]");
        assert_eq!(p.take().as_deref(), Some("{\"a\":1}"));
        assert_eq!(p.take().as_deref(), Some("line1\nline2"));
        assert_eq!(p.take(), None);
        p.push(b"\n\n");
        assert_eq!(p.take().as_deref(), Some("[DONE]"));
    }

    #[test]
    fn an_event_in_many_small_chunks_is_whole_and_the_next_one_follows() {
        let mut p = Parser::default();
        p.push(b"data: ");
        for _ in 0..5_000 {
            p.push(b"abcdefgh");
            assert_eq!(p.take(), None);
        }
        // The blank line split across two chunks, right at the searched edge.
        p.push(b"\n");
        assert_eq!(p.take(), None);
        p.push(b"\ndata: next\n\n");
        assert_eq!(p.take().map(|d| d.len()), Some(40_000));
        assert_eq!(p.take().as_deref(), Some("next"));
        assert_eq!(p.take(), None);
    }
}
