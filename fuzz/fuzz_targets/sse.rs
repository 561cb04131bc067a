//! The sidecar's incremental SSE parser (upstream streams): any bytes, split anywhere,
//! never panic, and the events do not depend on how the stream was chunked.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../sidecar/src/sse.rs"]
#[allow(dead_code)]
mod sse;

use sse::{encode_message, SseParser};

fuzz_target!(|input: &[u8]| {
    // The first byte picks where the stream is cut in two; the rest is the stream.
    let Some((&cut, stream)) = input.split_first() else {
        return;
    };
    let mut whole = SseParser::default();
    let at_once = whole.push(stream);

    let split = (cut as usize * stream.len()) / 255;
    let (a, b) = stream.split_at(split.min(stream.len()));
    let mut chunked = SseParser::default();
    let mut in_two = chunked.push(a);
    if let Ok(evs) = &mut in_two {
        match chunked.push(b) {
            Ok(more) => evs.extend(more),
            Err(e) => in_two = Err(e),
        }
    }
    assert_eq!(at_once, in_two, "events depend on chunking at {split}");

    // Byte by byte as well (a slow upstream).
    if stream.len() <= 512 {
        let mut slow = SseParser::default();
        let mut evs = Vec::new();
        for b in stream {
            if let Ok(more) = slow.push(std::slice::from_ref(b)) {
                evs.extend(more);
            }
        }
        if let Ok(expected) = &at_once {
            assert_eq!(expected, &evs, "events differ byte by byte");
        }
    }

    // What the encoder writes, the parser reads back (single-line data, as compact JSON is).
    if !stream.contains(&b'\n') && !stream.contains(&b'\r') {
        if let Ok(text) = std::str::from_utf8(stream) {
            let mut p = SseParser::default();
            let evs = p.push(&encode_message(text.as_bytes()));
            let evs = evs.unwrap_or_default();
            assert_eq!(evs.len(), 1);
            assert_eq!(evs[0].data, text);
            assert_eq!(evs[0].event.as_deref(), Some("message"));
        }
    }
});
