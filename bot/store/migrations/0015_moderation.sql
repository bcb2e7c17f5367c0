-- Moderation: a report or one photo hidden from everyone but admins (never forwarded, exported or served after),
-- bans on reporting for a period, and the moderation log (append-only): what was done to and by whom, and why.
ALTER TABLE reports ADD COLUMN hidden_at TEXT;
ALTER TABLE reports ADD COLUMN hidden_reason TEXT NOT NULL DEFAULT '';
ALTER TABLE report_photos ADD COLUMN hidden_at TEXT;
ALTER TABLE report_photos ADD COLUMN hidden_reason TEXT NOT NULL DEFAULT '';

CREATE TABLE bans (
    id          INTEGER PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES users(id),
    at          TEXT NOT NULL,
    until       TEXT NOT NULL,
    reason      TEXT NOT NULL,
    banned_by   INTEGER,            -- users.id; NULL: from the command line
    lifted_at   TEXT,
    lifted_by   INTEGER
);
CREATE INDEX bans_user ON bans(user_id, until);

CREATE TABLE moderation_log (
    id         INTEGER PRIMARY KEY,
    at         TEXT NOT NULL,
    actor_id   INTEGER,             -- users.id; NULL: the command line or the system
    action     TEXT NOT NULL,       -- hide_report | hide_photo | ban | unban | false_report | suggest_ban | dismiss_ban
    user_id    INTEGER,             -- the person it was about (a report's reporter, the banned user)
    report_id  INTEGER,
    detail     TEXT NOT NULL DEFAULT '',   -- e.g. the photo ("before #2"), the ban's end
    reason     TEXT NOT NULL DEFAULT ''
);
CREATE INDEX moderation_log_user ON moderation_log(user_id, at);
CREATE INDEX moderation_log_actor ON moderation_log(actor_id, at);
CREATE TRIGGER moderation_log_no_update BEFORE UPDATE ON moderation_log
BEGIN SELECT RAISE(ABORT, 'moderation_log is append-only'); END;
CREATE TRIGGER moderation_log_no_delete BEFORE DELETE ON moderation_log
BEGIN SELECT RAISE(ABORT, 'moderation_log is append-only'); END;
