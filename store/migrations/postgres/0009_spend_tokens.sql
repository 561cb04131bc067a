-- meshgate store, version 9: the tokens of an LLM request's spend row (one row per
-- `/v1/chat/completions` or `/v1/responses` request, the usage of every round of the
-- tool loop summed; call_type `acompletion` / `aresponses`). 0 on MCP rows.

ALTER TABLE spend_logs ADD COLUMN prompt_tokens BIGINT NOT NULL DEFAULT 0;
ALTER TABLE spend_logs ADD COLUMN completion_tokens BIGINT NOT NULL DEFAULT 0;
ALTER TABLE spend_logs ADD COLUMN total_tokens BIGINT NOT NULL DEFAULT 0;
