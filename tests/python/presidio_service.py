"""Presidio's analyzer and anonymizer behind their REST shape, on one port, for
tests/guardrails_sidecar.rs (outside the product):

- POST /analyze   {"text", "language", "entities"?} -> [{"entity_type", "start", "end", "score"}]
- POST /anonymize {"text", "analyzer_results"}      -> {"text", "items"}

The real presidio-analyzer and presidio-anonymizer (PyPI) run here. spaCy's trained
models are not on PyPI, so the NLP engine is a blank English pipeline saved to a
temporary directory: Presidio's pattern recognizers (e-mail, credit card, phone, IBAN,
IP, US SSN…) work with it; the NER-based ones (PERSON, LOCATION) find nothing.
Prints `LISTENING 127.0.0.1:<port>`; exits when stdin closes.
"""

import json
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import spacy
from presidio_analyzer import AnalyzerEngine
from presidio_analyzer.nlp_engine import NlpEngineProvider
from presidio_anonymizer import AnonymizerEngine
from presidio_anonymizer.entities import RecognizerResult

MODEL_DIR = tempfile.mkdtemp(prefix="presidio-blank-en-")
spacy.blank("en").to_disk(MODEL_DIR)
NLP = NlpEngineProvider(nlp_configuration={
    "nlp_engine_name": "spacy",
    "models": [{"lang_code": "en", "model_name": MODEL_DIR}],
}).create_engine()
ANALYZER = AnalyzerEngine(nlp_engine=NLP, supported_languages=["en"])
ANONYMIZER = AnonymizerEngine()


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

    def do_POST(self):
        length = int(self.headers.get("content-length", "0"))
        body = json.loads(self.rfile.read(length) or b"{}")
        if self.path == "/analyze":
            found = ANALYZER.analyze(text=body["text"], language=body.get("language", "en"),
                                     entities=body.get("entities"))
            self.reply([{"entity_type": f.entity_type, "start": f.start, "end": f.end,
                         "score": f.score} for f in found])
        elif self.path == "/anonymize":
            results = [RecognizerResult(r["entity_type"], r["start"], r["end"], r.get("score", 1.0))
                       for r in body.get("analyzer_results", [])]
            out = ANONYMIZER.anonymize(text=body["text"], analyzer_results=results)
            self.reply({"text": out.text,
                        "items": [{"entity_type": i.entity_type, "start": i.start, "end": i.end}
                                  for i in out.items]})
        else:
            self.reply({"error": "not found"}, 404)


def main():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(f"LISTENING 127.0.0.1:{server.server_address[1]}", flush=True)
    threading.Thread(target=lambda: (sys.stdin.read(), server.shutdown()), daemon=True).start()
    server.serve_forever()


if __name__ == "__main__":
    main()
