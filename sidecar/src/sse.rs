//! Server-sent events: an incremental parser (for upstream streams) and an encoder.

/// One dispatched event.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SseEvent {
    pub event: Option<String>,
    pub data: String,
    pub id: Option<String>,
}

/// Feeds chunks as they arrive; yields complete events. Handles `\n`, `\r\n` and `\r`.
#[derive(Default)]
pub struct SseParser {
    line: Vec<u8>,
    pending: SseEvent,
    has_data: bool,
    last_was_cr: bool,
}

/// Refuse to grow a single line beyond this (a hostile or broken upstream).
const MAX_LINE: usize = 16 * 1024 * 1024;

impl SseParser {
    pub fn push(&mut self, chunk: &[u8]) -> Result<Vec<SseEvent>, &'static str> {
        let mut events = Vec::new();
        for &b in chunk {
            if self.last_was_cr {
                self.last_was_cr = false;
                if b == b'\n' {
                    continue;
                }
            }
            match b {
                b'\n' | b'\r' => {
                    self.last_was_cr = b == b'\r';
                    let line = std::mem::take(&mut self.line);
                    if let Some(ev) = self.field(&line) {
                        events.push(ev);
                    }
                }
                _ => {
                    if self.line.len() >= MAX_LINE {
                        return Err("SSE line too long");
                    }
                    self.line.push(b);
                }
            }
        }
        Ok(events)
    }

    fn field(&mut self, line: &[u8]) -> Option<SseEvent> {
        if line.is_empty() {
            if !self.has_data {
                self.pending = SseEvent::default();
                return None;
            }
            self.has_data = false;
            return Some(std::mem::take(&mut self.pending));
        }
        if line[0] == b':' {
            return None; // comment / keep-alive
        }
        let text = String::from_utf8_lossy(line);
        let (name, value) = match text.split_once(':') {
            Some((n, v)) => (n.to_string(), v.strip_prefix(' ').unwrap_or(v).to_string()),
            None => (text.to_string(), String::new()),
        };
        match name.as_str() {
            "event" => self.pending.event = Some(value),
            "data" => {
                if self.has_data {
                    self.pending.data.push('\n');
                }
                self.pending.data.push_str(&value);
                self.has_data = true;
            }
            "id" => self.pending.id = Some(value),
            _ => {}
        }
        None
    }
}

/// `event: message` with JSON data, as MCP servers send it.
pub fn encode_message(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + 24);
    out.extend_from_slice(b"event: message\ndata: ");
    // JSON has no raw newlines outside strings when serialized compactly.
    out.extend_from_slice(data);
    out.extend_from_slice(b"\n\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_split_chunks_and_line_endings() {
        let mut p = SseParser::default();
        assert!(p.push(b"event: endpoint\r\nda").unwrap().is_empty());
        let evs = p
            .push(b"ta: /messages?x=1\r\n\r\n: keepalive\n\ndata: a\ndata: b\n\n")
            .unwrap();
        assert_eq!(evs.len(), 2);
        assert_eq!(evs[0].event.as_deref(), Some("endpoint"));
        assert_eq!(evs[0].data, "/messages?x=1");
        assert_eq!(evs[1].data, "a\nb");
        assert_eq!(evs[1].event, None);
    }

    #[test]
    fn encodes() {
        assert_eq!(
            encode_message(b"{}"),
            b"event: message\ndata: {}\n\n".to_vec()
        );
    }
}
