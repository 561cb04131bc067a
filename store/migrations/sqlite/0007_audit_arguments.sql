-- meshgate store, version 7: a tools/call's arguments in its audit row, written only when
-- the configuration asks for them (`meshgate.audit_arguments`): JSON with non-ASCII
-- characters escaped, at most 2 KiB (longer ones cut and marked). NULL otherwise.

ALTER TABLE audit_log ADD COLUMN arguments TEXT;
