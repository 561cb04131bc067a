"""A scripted Anthropic Messages API for tests/llm_anthropic.rs (outside the product; the
only scripted part of those tests). Started on 127.0.0.1, it prints `LISTENING
host:port`, answers `POST /v1/messages` by a fixed script chosen by the first user text,
and exits when its stdin closes (or after 10 minutes).

Requests without `x-api-key`, `anthropic-version` or `max_tokens` get Anthropic's 400
/ 401 errors. Scripts (the first user text):
- "hello"      -> "Hello from scripted Claude." (streamed: text in 4 deltas 0.4 s apart)
- "add"        -> first turn: a `tool_use` of `demo-add` ({"a": 2, "b": 3}) after a short
                  text; once a `tool_result` is in: "sum: <result text>" (streamed:
                  the tool input in two `input_json_delta`s)
- "overloaded" -> 529 overloaded_error
- "ratelimit"  -> 429 rate_limit_error
- "midoverload" -> streamed: one text delta, then an `error` event (overloaded_error)
                  and the end of the stream
- "malformed"  -> 200 with an HTML body (not JSON)
- "badkey"     -> 401 authentication_error whose message repeats the key it got (the
                  gateway must not pass it on)

GET /__recorded lists what it got, oldest first: path, body, headers.
"""

import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

RECORDED = []
LOCK = threading.Lock()
MODEL = "claude-scripted-1"
USAGE = {"input_tokens": 12, "output_tokens": 7}


def first_user_text(messages):
    for m in messages:
        if m.get("role") == "user":
            c = m.get("content")
            if isinstance(c, str):
                return c
            return " ".join(b.get("text", "") for b in c if b.get("type") == "text")
    return ""


def tool_results(messages):
    out = []
    for m in messages:
        if m.get("role") == "user" and isinstance(m.get("content"), list):
            for b in m["content"]:
                if b.get("type") == "tool_result":
                    c = b.get("content")
                    out.append(c if isinstance(c, str) else " ".join(x.get("text", "") for x in c))
    return out


def plan(text, results):
    """[content blocks], stop_reason"""
    if text == "hello":
        return [{"type": "text", "text": "Hello from scripted Claude."}], "end_turn"
    if text == "midoverload":
        return [{"type": "text", "text": "Partial answer"}], "end_turn"
    if text == "add":
        if not results:
            return [{"type": "text", "text": "Adding."},
                    {"type": "tool_use", "id": "toolu_1", "name": "demo-add", "input": {"a": 2, "b": 3}}], "tool_use"
        return [{"type": "text", "text": "sum: " + "|".join(results)}], "end_turn"
    return [{"type": "text", "text": f"unscripted: {text}"}], "end_turn"


ERRORS = {
    "overloaded": (529, "overloaded_error", "Overloaded"),
    "ratelimit": (429, "rate_limit_error", "Number of request tokens has exceeded your per-minute rate limit"),
}


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

    def error(self, status, kind, message):
        self.reply({"type": "error", "error": {"type": kind, "message": message}}, status)

    def do_GET(self):
        if self.path == "/__recorded":
            with LOCK:
                self.reply(list(RECORDED))
        else:
            self.error(404, "not_found_error", "not found")

    def do_POST(self):
        length = int(self.headers.get("content-length", "0"))
        body = json.loads(self.rfile.read(length) or b"{}")
        headers = {k.lower(): v for k, v in self.headers.items()}
        with LOCK:
            RECORDED.append({"path": self.path, "body": body, "headers": headers})
        if self.path != "/v1/messages":
            return self.error(404, "not_found_error", f"no route {self.path}")
        if not headers.get("x-api-key"):
            return self.error(401, "authentication_error", "x-api-key header is required")
        if headers.get("anthropic-version") != "2023-06-01":
            return self.error(400, "invalid_request_error", "anthropic-version header is required")
        if not isinstance(body.get("max_tokens"), int):
            return self.error(400, "invalid_request_error", "max_tokens: Field required")
        messages = body.get("messages", [])
        text = first_user_text(messages)
        if text == "badkey":
            return self.error(401, "authentication_error", f"invalid x-api-key {headers['x-api-key']}")
        if text == "malformed":
            data = b"<html>gateway oops</html>"
            self.send_response(200)
            self.send_header("content-type", "text/html")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return None
        if text in ERRORS:
            return self.error(*ERRORS[text])
        blocks, stop = plan(text, tool_results(messages))
        if body.get("stream"):
            return self.stream(blocks, stop, fail=text == "midoverload")
        self.reply({"id": f"msg_{len(RECORDED)}", "type": "message", "role": "assistant",
                    "model": MODEL, "content": blocks, "stop_reason": stop,
                    "stop_sequence": None, "usage": USAGE})

    def send_event(self, kind, data):
        raw = f"event: {kind}\ndata: {json.dumps({'type': kind, **data})}\n\n".encode()
        self.wfile.write(f"{len(raw):x}\r\n".encode() + raw + b"\r\n")
        self.wfile.flush()

    def stream(self, blocks, stop, fail=False):
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        self.send_event("message_start", {"message": {
            "id": "msg_s", "type": "message", "role": "assistant", "model": MODEL, "content": [],
            "stop_reason": None, "usage": {"input_tokens": USAGE["input_tokens"], "output_tokens": 1}}})
        for i, b in enumerate(blocks):
            if b["type"] == "text":
                self.send_event("content_block_start", {"index": i, "content_block": {"type": "text", "text": ""}})
                self.send_event("ping", {})
                for k, p in enumerate(text_pieces(b["text"])):
                    if k:
                        time.sleep(0.4)
                    self.send_event("content_block_delta", {"index": i, "delta": {"type": "text_delta", "text": p}})
                    if fail:
                        self.send_event("error", {"error": {"type": "overloaded_error", "message": "Overloaded"}})
                        self.wfile.write(b"0\r\n\r\n")
                        self.wfile.flush()
                        return
            else:
                self.send_event("content_block_start", {"index": i, "content_block": {
                    "type": "tool_use", "id": b["id"], "name": b["name"], "input": {}}})
                a = json.dumps(b["input"])
                for half in (a[:len(a) // 2], a[len(a) // 2:]):
                    self.send_event("content_block_delta", {"index": i, "delta": {
                        "type": "input_json_delta", "partial_json": half}})
            self.send_event("content_block_stop", {"index": i})
        self.send_event("message_delta", {"delta": {"stop_reason": stop, "stop_sequence": None},
                                          "usage": {"output_tokens": USAGE["output_tokens"]}})
        self.send_event("message_stop", {})
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


def text_pieces(text):
    """4 pieces: 3 of 8 characters, then the rest."""
    pieces = [text[i:i + 8] for i in range(0, len(text), 8)][:3]
    pieces.append(text[len("".join(pieces)):])
    return pieces


def main():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print(f"LISTENING 127.0.0.1:{server.server_address[1]}", flush=True)
    threading.Thread(target=lambda: (sys.stdin.read(), server.shutdown()), daemon=True).start()
    timer = threading.Timer(600, server.shutdown)
    timer.daemon = True
    timer.start()
    server.serve_forever()


if __name__ == "__main__":
    main()
