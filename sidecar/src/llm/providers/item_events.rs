//! Closing a Responses output item, the same in both stream translations that build
//! Responses events themselves (chat-only models, `chat_only/stream.rs`; Anthropic,
//! `anthropic/stream_responses.rs`).

use serde_json::{json, Value};

/// Marks the output item at `at` completed and gives the events that close it, in
/// order: a message's `response.output_text.done` and `response.content_part.done`, or
/// a function call's `response.function_call_arguments.done` (`{}` when no argument
/// came); then `response.output_item.done` with the whole item.
pub fn close_item(item: &mut Value, at: usize) -> Vec<(&'static str, Value)> {
    item["status"] = json!("completed");
    let id = item["id"].clone();
    let mut out = Vec::new();
    if item["type"] == "message" {
        let part = item["content"][0].clone();
        out.push((
            "response.output_text.done",
            json!({"output_index": at, "item_id": id, "content_index": 0,
                   "text": part["text"], "logprobs": []}),
        ));
        out.push((
            "response.content_part.done",
            json!({"output_index": at, "item_id": id, "content_index": 0, "part": part}),
        ));
    } else {
        if item["arguments"] == "" {
            item["arguments"] = json!("{}");
        }
        out.push((
            "response.function_call_arguments.done",
            json!({"output_index": at, "item_id": id, "name": item["name"],
                   "arguments": item["arguments"]}),
        ));
    }
    out.push((
        "response.output_item.done",
        json!({"output_index": at, "item": item.clone()}),
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_without_arguments_closes_with_an_empty_object() {
        let mut item = json!({"type": "function_call", "id": "fc_1", "name": "demo-echo",
            "arguments": "", "status": "in_progress"});
        let events = close_item(&mut item, 2);
        let kinds: Vec<&str> = events.iter().map(|(k, _)| *k).collect();
        assert_eq!(
            kinds,
            [
                "response.function_call_arguments.done",
                "response.output_item.done"
            ]
        );
        assert_eq!(events[0].1["arguments"], "{}");
        assert_eq!(events[1].1["item"]["status"], "completed");
        assert_eq!(events[1].1["output_index"], 2);
        let mut message = json!({"type": "message", "id": "m", "content": [{"type": "output_text", "text": "hi"}]});
        let kinds: Vec<&str> = close_item(&mut message, 0)
            .iter()
            .map(|(k, _)| *k)
            .collect();
        assert_eq!(
            kinds,
            [
                "response.output_text.done",
                "response.content_part.done",
                "response.output_item.done"
            ]
        );
    }
}
