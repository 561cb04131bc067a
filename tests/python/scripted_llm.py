"""A scripted OpenAI-compatible model for tests/llm.rs (outside the product; the only
scripted part of those tests). Started on 127.0.0.1, it prints `LISTENING host:port`,
answers `POST /v1/chat/completions` and `POST /v1/responses` by a fixed script chosen by
the first user message, and exits when its stdin closes (or after 10 minutes).

Scripts (the first user text):
- "hello"    -> "Hello from the scripted model." (streamed in 4 chunks 0.4 s apart when
                `stream` is true)
- "parallel" -> first turn: two calls of `demo-sleep` ({"ms": 1500}) in one answer;
                once their results are in: "done: <results joined by |>"
- "fail"     -> first turn: a call of `demo-fail` ({"message": "kaput"}) and one of an
                unknown tool `demo-nosuch`; then "saw: <results joined by |>"
- "leak"     -> first turn: `demo-echo` with a card number and `demo-echo` with an
                e-mail address (for guardrails); then "saw: <results joined by |>"
- "loop"     -> calls `demo-echo` every turn (for the round limit)
- "slow", "slowbye" -> first turn: a call of `demo-sleep` ({"ms": 2000}); then
                "slow done: <result>"
- "midfail"  -> first turn: a call of `demo-echo`; then, streamed, one piece of text and
                the connection cut (a provider failing mid-stream)
- "approve"  -> first turn: `demo-echo` ({"text": "approved"}) and `demo-add`
                ({"a": 2, "b": 3}) in one answer; then "results: <results joined by |>"
- "chain"    -> `demo-echo` ({"text": "one"}), once its result is in `demo-add`
                ({"a": 1, "b": 1}), then "chain done: <results joined by |>"

With `stream: true` every answer is an event stream: Chat chunks (tool calls as
deltas: id and name first, the arguments in two pieces; `usage` in a last chunk when
`stream_options.include_usage`), or Responses events (response.created,
output_item.added / function_call_arguments.delta / done per call, the message's
output_text deltas, response.completed with the whole response). Text comes in 4
pieces 0.4 s apart.

GET /__recorded lists what it got, oldest first: path, body, authorization header,
received_ms and answered_ms (wall clock, ms).
"""

import json
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

RECORDED = []
LOCK = threading.Lock()
MODEL = "scripted-1"


def now_ms():
    return int(time.time() * 1000)


def first_user_text(items):
    for m in items:
        if m.get("role") == "user":
            c = m.get("content")
            if isinstance(c, str):
                return c
            if isinstance(c, list):
                return " ".join(p.get("text", "") for p in c if isinstance(p, dict))
    return ""


def chat_calls(calls):
    return [{"id": cid, "type": "function",
             "function": {"name": name, "arguments": json.dumps(args)}}
            for cid, name, args in calls]


def plan(text, results, turn):
    """(text answer or None, [(call_id, tool, arguments)])"""
    if text == "hello":
        return "Hello from the scripted model.", []
    if text == "parallel":
        if not results:
            return None, [(f"call_a{turn}", "demo-sleep", {"ms": 1500}),
                          (f"call_b{turn}", "demo-sleep", {"ms": 1500})]
        return "done: " + "|".join(results), []
    if text == "fail":
        if not results:
            return None, [("call_f", "demo-fail", {"message": "kaput"}),
                          ("call_n", "demo-nosuch", {})]
        return "saw: " + "|".join(results), []
    if text == "leak":
        if not results:
            return None, [("call_k", "demo-echo", {"text": "card 4111 1111 1111 1111"}),
                          ("call_m", "demo-echo", {"text": "mail bob@corp.example"})]
        return "saw: " + "|".join(results), []
    if text == "loop":
        return None, [(f"call_l{turn}", "demo-echo", {"text": f"turn {turn}"})]
    if text in ("slow", "slowbye"):
        if not results:
            return None, [("call_s", "demo-sleep", {"ms": 2000})]
        return "slow done: " + "|".join(results), []
    if text == "midfail":
        if not results:
            return None, [("call_m", "demo-echo", {"text": "x"})]
        return "this answer breaks off", []
    if text == "approve":
        if not results:
            return None, [("call_e", "demo-echo", {"text": "approved"}),
                          ("call_a", "demo-add", {"a": 2, "b": 3})]
        return "results: " + "|".join(results), []
    if text == "chain":
        if not results:
            return None, [("call_c1", "demo-echo", {"text": "one"})]
        if len(results) == 1:
            return None, [("call_c2", "demo-add", {"a": 1, "b": 1})]
        return "chain done: " + "|".join(results), []
    return f"unscripted: {text}", []


USAGE = {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, body, status=200):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def record(self, body, received):
        entry = {"path": self.path, "body": body,
                 "authorization": self.headers.get("authorization"),
                 "headers": {k.lower(): v for k, v in self.headers.items()},
                 "received_ms": received, "answered_ms": None}
        with LOCK:
            RECORDED.append(entry)
        return entry

    def do_GET(self):
        if self.path == "/__recorded":
            with LOCK:
                self.reply(list(RECORDED))
        else:
            self.reply({"error": {"message": "not found"}}, 404)

    def do_POST(self):
        received = now_ms()
        length = int(self.headers.get("content-length", "0"))
        body = json.loads(self.rfile.read(length) or b"{}")
        entry = self.record(body, received)
        if self.path == "/v1/chat/completions":
            self.chat(body)
        elif self.path == "/v1/responses":
            self.responses_api(body)
        else:
            self.reply({"error": {"message": f"no route {self.path}"}}, 404)
        entry["answered_ms"] = now_ms()

    def chat(self, body):
        messages = body.get("messages", [])
        results = [m.get("content", "") for m in messages if m.get("role") == "tool"]
        turn = sum(1 for m in messages if m.get("role") == "assistant")
        first = first_user_text(messages)
        text, calls = plan(first, results, turn)
        if body.get("stream"):
            usage = (body.get("stream_options") or {}).get("include_usage")
            self.chat_stream(text or "", calls, usage, cut=first == "midfail" and not calls)
            return
        message = {"role": "assistant", "content": text}
        if calls:
            message["tool_calls"] = chat_calls(calls)
        self.reply({"id": f"chatcmpl-{turn}", "object": "chat.completion", "created": 1,
                    "model": body.get("model"),
                    "choices": [{"index": 0, "message": message,
                                 "finish_reason": "tool_calls" if calls else "stop"}],
                    "usage": USAGE})

    def start_stream(self):
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()

    def send_event(self, data, event=None):
        head = f"event: {event}\n" if event else ""
        raw = f"{head}data: {data}\n\n".encode()
        self.wfile.write(f"{len(raw):x}\r\n".encode() + raw + b"\r\n")
        self.wfile.flush()

    def end_stream(self):
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def cut(self):
        """Breaks the connection mid-stream (no last chunk)."""
        self.wfile.flush()
        self.connection.shutdown(socket.SHUT_RDWR)
        self.close_connection = True

    def chat_stream(self, text, calls=(), usage=False, cut=False):
        self.start_stream()
        pieces = text_pieces(text)

        def send(obj):
            self.send_event(json.dumps(obj) if isinstance(obj, dict) else obj)

        base = {"id": "chatcmpl-s", "object": "chat.completion.chunk", "created": 1, "model": MODEL}

        def delta(d, finish=None):
            send({**base, "choices": [{"index": 0, "delta": d, "finish_reason": finish}]})

        delta({"role": "assistant", "content": ""})
        for i, p in enumerate(pieces if text else []):
            if i:
                time.sleep(0.4)
            delta({"content": p})
            if cut:
                self.cut()
                return
        for n, (cid, name, args) in enumerate(calls):
            a = json.dumps(args)
            delta({"tool_calls": [{"index": n, "id": cid, "type": "function",
                                   "function": {"name": name, "arguments": ""}}]})
            for half in (a[:len(a) // 2], a[len(a) // 2:]):
                delta({"tool_calls": [{"index": n, "function": {"arguments": half}}]})
        delta({}, "tool_calls" if calls else "stop")
        if usage:
            send({**base, "choices": [], "usage": USAGE})
        send("[DONE]")
        self.end_stream()

    def responses_api(self, body):
        items = body.get("input", [])
        if isinstance(items, str):
            items = [{"role": "user", "content": items}]
        results = [i.get("output", "") for i in items if i.get("type") == "function_call_output"]
        turn = sum(1 for i in items if i.get("type") == "function_call")
        first = first_user_text(items)
        text, calls = plan(first, results, turn)
        if body.get("stream"):
            self.responses_stream(body, turn, text, calls, cut=first == "midfail" and not calls)
            return
        self.reply(responses_body(body, turn, text, calls))

    def responses_stream(self, body, turn, text, calls, cut):
        self.start_stream()
        seq = iter(range(10_000))

        def send(kind, **fields):
            self.send_event(json.dumps({"type": kind, "sequence_number": next(seq), **fields}), kind)

        whole = responses_body(body, turn, text, calls)
        send("response.created", response={**whole, "status": "in_progress", "output": [], "usage": None})
        send("response.in_progress", response={**whole, "status": "in_progress", "output": [], "usage": None})
        for i, item in enumerate(whole["output"]):
            if item["type"] == "function_call":
                send("response.output_item.added", output_index=i,
                     item={**item, "arguments": "", "status": "in_progress"})
                a = item["arguments"]
                for half in (a[:len(a) // 2], a[len(a) // 2:]):
                    send("response.function_call_arguments.delta", output_index=i, item_id=item["id"], delta=half)
                send("response.function_call_arguments.done", output_index=i, item_id=item["id"],
                     name=item["name"], arguments=a)
                send("response.output_item.done", output_index=i, item=item)
                continue
            part = item["content"][0]
            send("response.output_item.added", output_index=i,
                 item={**item, "status": "in_progress", "content": []})
            send("response.content_part.added", output_index=i, item_id=item["id"], content_index=0,
                 part={**part, "text": ""})
            for k, p in enumerate(text_pieces(part["text"])):
                if k:
                    time.sleep(0.4)
                send("response.output_text.delta", output_index=i, item_id=item["id"], content_index=0,
                     delta=p, logprobs=[])
                if cut:
                    self.cut()
                    return
            send("response.output_text.done", output_index=i, item_id=item["id"], content_index=0,
                 text=part["text"], logprobs=[])
            send("response.content_part.done", output_index=i, item_id=item["id"], content_index=0, part=part)
            send("response.output_item.done", output_index=i, item=item)
        send("response.completed", response=whole)
        self.end_stream()


def text_pieces(text):
    """4 pieces: 3 of 8 characters, then the rest."""
    pieces = [text[i:i + 8] for i in range(0, len(text), 8)][:3]
    pieces.append(text[len("".join(pieces)):])
    return pieces


def responses_body(body, turn, text, calls):
    output = []
    for cid, name, args in calls:
        output.append({"type": "function_call", "id": f"fc_{cid}", "call_id": cid,
                       "name": name, "arguments": json.dumps(args), "status": "completed"})
    if text is not None:
        output.append({"type": "message", "id": "msg_1", "role": "assistant", "status": "completed",
                       "content": [{"type": "output_text", "text": text, "annotations": []}]})
    return {"id": f"resp_{turn}", "object": "response", "created_at": 1, "status": "completed",
            "model": body.get("model"), "output": output, "parallel_tool_calls": True,
            "tool_choice": "auto", "tools": [],
            "usage": {"input_tokens": 10, "output_tokens": 5, "total_tokens": 15,
                      "input_tokens_details": {"cached_tokens": 0},
                      "output_tokens_details": {"reasoning_tokens": 0}}}


def main():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print(f"LISTENING 127.0.0.1:{server.server_address[1]}", flush=True)
    # Exit with the test (it holds our stdin), and in any case after 10 minutes.
    threading.Thread(target=lambda: (sys.stdin.read(), server.shutdown()), daemon=True).start()
    timer = threading.Timer(600, server.shutdown)
    timer.daemon = True
    timer.start()
    server.serve_forever()


if __name__ == "__main__":
    main()
