-- meshgate store, version 6 (sqlite): the models a key may call on the OpenAI-compatible
-- routes (LiteLLM's `models` on /key/generate), a JSON list of model names; NULL = every
-- model (LiteLLM's rule: an empty list restricts nothing).

ALTER TABLE api_keys ADD COLUMN models TEXT;
