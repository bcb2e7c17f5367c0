-- 限时办结: per-category time limits (editable: `rider-bot sla set`), deadlines stored with each report, and
-- marks for every reminder/escalation/digest already handled, so the schedule can be derived from the database.
CREATE TABLE category_limits (
    category         TEXT PRIMARY KEY,
    accept_minutes   INTEGER NOT NULL CHECK (accept_minutes > 0),
    resolve_minutes  INTEGER NOT NULL CHECK (resolve_minutes > 0),
    urgent           INTEGER NOT NULL DEFAULT 0
);
INSERT INTO category_limits (category, accept_minutes, resolve_minutes, urgent) VALUES
    ('fire_lane', 30, 240, 1),
    ('flying_lead', 60, 1440, 1),
    ('elevator', 30, 1440, 1),
    ('lights', 240, 4320, 0),
    ('road', 240, 4320, 0),
    ('sanitation', 480, 4320, 0),
    ('parking', 480, 10080, 0),
    ('dogs', 480, 4320, 0),
    ('facility', 480, 21600, 0),
    ('other', 480, 10080, 0);

ALTER TABLE reports ADD COLUMN urgent INTEGER NOT NULL DEFAULT 0;
ALTER TABLE reports ADD COLUMN accept_due TEXT;
ALTER TABLE reports ADD COLUMN resolve_due TEXT;
ALTER TABLE reports ADD COLUMN escalation_level INTEGER NOT NULL DEFAULT 0;
CREATE INDEX reports_accept_due ON reports(status, accept_due);
CREATE INDEX reports_resolve_due ON reports(status, resolve_due);

CREATE TABLE schedule_marks (
    mark     TEXT PRIMARY KEY,        -- e.g. r12:accept:2026-11-26T10:30:00+08:00:90 or digest:2026-11-26:u7
    at       TEXT NOT NULL,
    outcome  TEXT NOT NULL            -- sent | skipped
);
