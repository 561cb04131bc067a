-- meshgate store, version 2 (SQLite): client sessions ended by DELETE, shared by every
-- replica. An entry is needed only while the id could still be used (its lifetime), so
-- `expires_at_ms` bounds it and entries past it are pruned. Times are Unix milliseconds.

CREATE TABLE session_revocations (
    session_key TEXT PRIMARY KEY,
    revoked_at_ms INTEGER NOT NULL,
    expires_at_ms INTEGER NOT NULL
);
CREATE INDEX session_revocations_revoked_at ON session_revocations (revoked_at_ms);
CREATE INDEX session_revocations_expires_at ON session_revocations (expires_at_ms);
