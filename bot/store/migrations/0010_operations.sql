-- Operations (docs/OPERATIONS.md): a row /readyz rewrites to prove the database takes writes, and the audit of
-- what operators did to the outbox by hand (retrying or dropping dead letters).
CREATE TABLE health_probe (
    id  INTEGER PRIMARY KEY CHECK (id = 1),
    at  TEXT NOT NULL
);

CREATE TABLE outbox_audit (
    id          INTEGER PRIMARY KEY,
    at          TEXT NOT NULL,
    outbox_id   INTEGER NOT NULL,
    action      TEXT NOT NULL CHECK (action IN ('retry', 'drop')),
    actor       TEXT NOT NULL,             -- the operating-system user who ran the command
    from_status TEXT NOT NULL,
    note        TEXT NOT NULL DEFAULT ''   -- the row's last error at that moment
);
CREATE INDEX outbox_audit_row ON outbox_audit(outbox_id, id);
CREATE TRIGGER outbox_audit_no_update BEFORE UPDATE ON outbox_audit
BEGIN SELECT RAISE(ABORT, 'outbox_audit is append-only'); END;
CREATE TRIGGER outbox_audit_no_delete BEFORE DELETE ON outbox_audit
BEGIN SELECT RAISE(ABORT, 'outbox_audit is append-only'); END;
