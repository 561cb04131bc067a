-- meshgate store, version 4 (SQLite): spend and budgets.
-- `spend_logs`: one row per tools/call and per aggregated tools/list (LiteLLM's
-- LiteLLM_SpendLogs, MCP columns). `api_key` is the key's SHA-256 (never the key;
-- 'master' for the master key). Rows are written in batches by the sidecar and do not
-- move the store revision. Budgets (LiteLLM's max_budget / budget_duration /
-- budget_reset_at) on keys, teams and organizations: the spend in the current window is
-- the sum of the entity's rows since budget_reset_at - budget_duration (or ever, without
-- a duration).

CREATE TABLE spend_logs (
    request_id TEXT PRIMARY KEY,
    call_type TEXT NOT NULL,
    api_key TEXT NOT NULL,
    key_alias TEXT,
    team_id TEXT,
    organization_id TEXT,
    user_id TEXT,
    end_user TEXT,
    model TEXT NOT NULL,
    mcp_server TEXT,
    mcp_tool TEXT,
    spend REAL NOT NULL CHECK (spend >= 0),
    status TEXT NOT NULL,
    start_time TEXT NOT NULL,
    end_time TEXT NOT NULL,
    latency_ms INTEGER NOT NULL,
    upstream_protocol TEXT
);
CREATE INDEX spend_logs_start_idx ON spend_logs (start_time);
CREATE INDEX spend_logs_key_idx ON spend_logs (api_key, start_time);
CREATE INDEX spend_logs_team_idx ON spend_logs (team_id, start_time);
CREATE INDEX spend_logs_org_idx ON spend_logs (organization_id, start_time);

ALTER TABLE api_keys ADD COLUMN max_budget REAL CHECK (max_budget >= 0);
ALTER TABLE api_keys ADD COLUMN budget_duration TEXT;
ALTER TABLE api_keys ADD COLUMN budget_reset_at TEXT;
ALTER TABLE teams ADD COLUMN max_budget REAL CHECK (max_budget >= 0);
ALTER TABLE teams ADD COLUMN budget_duration TEXT;
ALTER TABLE teams ADD COLUMN budget_reset_at TEXT;
ALTER TABLE organizations ADD COLUMN max_budget REAL CHECK (max_budget >= 0);
ALTER TABLE organizations ADD COLUMN budget_duration TEXT;
ALTER TABLE organizations ADD COLUMN budget_reset_at TEXT;
