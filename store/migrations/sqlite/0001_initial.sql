-- meshgate store, version 1 (SQLite). Timestamps are RFC 3339 UTC text, JSON is text.

CREATE TABLE store_revision (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    revision INTEGER NOT NULL
);
INSERT INTO store_revision (id, revision) VALUES (1, 0);

CREATE TABLE organizations (
    organization_id TEXT PRIMARY KEY,
    organization_alias TEXT NOT NULL,
    metadata TEXT NOT NULL,
    mcp_servers TEXT,
    mcp_access_groups TEXT,
    mcp_tool_permissions TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE UNIQUE INDEX organizations_alias_key ON organizations (organization_alias);

CREATE TABLE teams (
    team_id TEXT PRIMARY KEY,
    team_alias TEXT,
    organization_id TEXT REFERENCES organizations (organization_id) ON DELETE RESTRICT,
    metadata TEXT NOT NULL,
    blocked BOOLEAN NOT NULL,
    rpm_limit INTEGER CHECK (rpm_limit >= 0),
    mcp_servers TEXT,
    mcp_access_groups TEXT,
    mcp_tool_permissions TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE UNIQUE INDEX teams_alias_key ON teams (team_alias);
CREATE INDEX teams_organization_idx ON teams (organization_id);

CREATE TABLE team_members (
    team_id TEXT NOT NULL REFERENCES teams (team_id) ON DELETE CASCADE,
    user_id TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('admin', 'user')),
    PRIMARY KEY (team_id, user_id)
);
CREATE INDEX team_members_user_idx ON team_members (user_id);

CREATE TABLE api_keys (
    token TEXT PRIMARY KEY CHECK (length(token) = 64),
    key_name TEXT NOT NULL,
    key_alias TEXT,
    metadata TEXT NOT NULL,
    team_id TEXT REFERENCES teams (team_id) ON DELETE RESTRICT,
    user_id TEXT,
    organization_id TEXT REFERENCES organizations (organization_id) ON DELETE RESTRICT,
    expires TEXT,
    blocked BOOLEAN NOT NULL,
    rpm_limit INTEGER CHECK (rpm_limit >= 0),
    mcp_servers TEXT,
    mcp_access_groups TEXT,
    mcp_tool_permissions TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE UNIQUE INDEX api_keys_alias_key ON api_keys (key_alias);
CREATE INDEX api_keys_team_idx ON api_keys (team_id);
CREATE INDEX api_keys_organization_idx ON api_keys (organization_id);
CREATE INDEX api_keys_user_idx ON api_keys (user_id);

CREATE TABLE mcp_servers (
    server_id TEXT PRIMARY KEY,
    server_name TEXT NOT NULL,
    alias TEXT,
    description TEXT,
    config TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE UNIQUE INDEX mcp_servers_name_key ON mcp_servers (lower(server_name));
CREATE UNIQUE INDEX mcp_servers_alias_key ON mcp_servers (lower(alias));
