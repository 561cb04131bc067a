-- meshgate store, version 3 (postgres): guardrail names attached to keys and teams (LiteLLM's
-- `guardrails` on /key/generate and /team/new), a JSON list of names; NULL = none.
-- The names are checked against the configuration by the admin API, not here.

ALTER TABLE api_keys ADD COLUMN guardrails JSONB;
ALTER TABLE teams ADD COLUMN guardrails JSONB;
