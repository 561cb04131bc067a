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
- "loop"     -> calls `demo-echo` every turn (for the round limit)

GET /__recorded lists what it got, oldest first: path, body, authorization header,
received_ms and answered_ms (wall clock, ms).
"""

import json
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
    if text == "loop":
        return None, [(f"call_l{turn}", "demo-echo", {"text": f"turn {turn}"})]
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
        text, calls = plan(first_user_text(messages), results, turn)
        if body.get("stream"):
            self.chat_stream(text or "")
            return
        message = {"role": "assistant", "content": text}
        if calls:
            message["tool_calls"] = chat_calls(calls)
        self.reply({"id": f"chatcmpl-{turn}", "object": "chat.completion", "created": 1,
                    "model": body.get("model"),
                    "choices": [{"index": 0, "message": message,
                                 "finish_reason": "tool_calls" if calls else "stop"}],
                    "usage": USAGE})

    def chat_stream(self, text):
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        pieces = [text[i:i + 8] for i in range(0, len(text), 8)][:3]
        pieces.append(text[len("".join(pieces)):])

        def send(obj):
            data = f"data: {obj}\n\n".encode()
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.wfile.flush()

        base = {"id": "chatcmpl-s", "object": "chat.completion.chunk", "created": 1, "model": MODEL}
        send(json.dumps({**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]}))
        for i, p in enumerate(pieces):
            if i:
                time.sleep(0.4)
            send(json.dumps({**base, "choices": [{"index": 0, "delta": {"content": p}, "finish_reason": None}]}))
        send(json.dumps({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}))
        send("[DONE]")
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def responses_api(self, body):
        items = body.get("input", [])
        if isinstance(items, str):
            items = [{"role": "user", "content": items}]
        results = [i.get("output", "") for i in items if i.get("type") == "function_call_output"]
        turn = sum(1 for i in items if i.get("type") == "function_call")
        text, calls = plan(first_user_text(items), results, turn)
        output = []
        for cid, name, args in calls:
            output.append({"type": "function_call", "id": f"fc_{cid}", "call_id": cid,
                           "name": name, "arguments": json.dumps(args), "status": "completed"})
        if text is not None:
            output.append({"type": "message", "id": "msg_1", "role": "assistant", "status": "completed",
                           "content": [{"type": "output_text", "text": text, "annotations": []}]})
        self.reply({"id": f"resp_{turn}", "object": "response", "created_at": 1, "status": "completed",
                    "model": body.get("model"), "output": output, "parallel_tool_calls": True,
                    "tool_choice": "auto", "tools": [],
                    "usage": {"input_tokens": 10, "output_tokens": 5, "total_tokens": 15,
                              "input_tokens_details": {"cached_tokens": 0},
                              "output_tokens_details": {"reasoning_tokens": 0}}})


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
