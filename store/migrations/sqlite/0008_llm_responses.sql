-- meshgate store, version 8 (SQLite): the Responses API answers the gateway returned,
-- kept so a later request's `previous_response_id` can continue them with any
-- provider. A row belongs to one principal (`owner`, e.g. `key:<id>`) and is read
-- only by it; `input` is the whole conversation as sent (JSON list of items),
-- `output` the answer's items (JSON list); `bytes` their size. Rows past
-- `expires_at_ms` are never read and are pruned. Times are Unix milliseconds.

CREATE TABLE llm_responses (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    model TEXT NOT NULL,
    input TEXT NOT NULL,
    output TEXT NOT NULL,
    bytes INTEGER NOT NULL,
    created_at_ms INTEGER NOT NULL,
    expires_at_ms INTEGER NOT NULL
);
CREATE INDEX llm_responses_expires_at ON llm_responses (expires_at_ms);
