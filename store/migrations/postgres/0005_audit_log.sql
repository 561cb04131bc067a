-- meshgate store, version 5 (PostgreSQL): the audit trail. One row per request Envoy logged
-- (AccessLogService → sidecar), refusals of the filter included. No secrets: the
-- principal is a key id (a prefix of the key's SHA-256) or `master`; never argument
-- values, never a query string. Times are Unix ms.

CREATE TABLE audit_log (
    id BIGSERIAL PRIMARY KEY,
    at_ms BIGINT NOT NULL,
    request_id TEXT,
    decision TEXT NOT NULL,
    reason TEXT NOT NULL,
    http_status BIGINT,
    principal TEXT,
    key_alias TEXT,
    team_id TEXT,
    organization_id TEXT,
    http_method TEXT,
    path TEXT,
    mcp_method TEXT,
    server TEXT,
    tool TEXT,
    guardrail TEXT
);
CREATE INDEX audit_log_at ON audit_log (at_ms);
CREATE INDEX audit_log_principal_at ON audit_log (principal, at_ms);
CREATE INDEX audit_log_team_at ON audit_log (team_id, at_ms);
