"""A test guardrail service speaking LiteLLM's Generic Guardrail API
(POST /beta/litellm_basic_guardrail_api). Outside the product: started by
tests/guardrails_sidecar.rs on 127.0.0.1, it prints its port and decides by the words
in the texts it gets:

- "forbidden"   -> BLOCKED ("the word is not allowed here")
- "slowblock"   -> waits 0.5 s, then BLOCKED (a during_mcp_call check that loses the race)
- "hang"        -> waits 30 s (past any test timeout)
- "secret-word" -> GUARDRAIL_INTERVENED, each "secret-word" replaced by "[redacted]"
- otherwise     -> NONE

GET /__requests lists what it got (input_type and texts), newest last.
"""

import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

RECEIVED = []
LOCK = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def reply(self, body, status=200):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        with LOCK:
            self.reply(list(RECEIVED))

    def do_POST(self):
        length = int(self.headers.get("content-length", "0"))
        body = json.loads(self.rfile.read(length) or b"{}")
        if self.path != "/beta/litellm_basic_guardrail_api":
            self.reply({"detail": "not found"}, 404)
            return
        texts = body.get("texts", [])
        with LOCK:
            RECEIVED.append({"input_type": body.get("input_type"), "texts": texts,
                             "api_key": self.headers.get("x-api-key")})
        joined = " ".join(texts)
        if "hang" in joined:
            time.sleep(30)
            self.reply({"action": "NONE"})
        elif "slowblock" in joined:
            time.sleep(0.5)
            self.reply({"action": "BLOCKED", "blocked_reason": "slow check refused it"})
        elif "forbidden" in joined:
            self.reply({"action": "BLOCKED", "blocked_reason": "the word is not allowed here"})
        elif "secret-word" in joined:
            self.reply({"action": "GUARDRAIL_INTERVENED",
                        "texts": [t.replace("secret-word", "[redacted]") for t in texts]})
        else:
            self.reply({"action": "NONE"})


def main():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(f"LISTENING 127.0.0.1:{server.server_address[1]}", flush=True)
    # Exit with the test: it holds our stdin.
    threading.Thread(target=lambda: (sys.stdin.read(), server.shutdown()), daemon=True).start()
    server.serve_forever()


if __name__ == "__main__":
    main()
