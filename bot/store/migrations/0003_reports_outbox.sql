-- 随手拍 reports (FixMyStreet's report + Open311 service request, reduced to what a grid needs).
CREATE TABLE reports (
    id            INTEGER PRIMARY KEY,
    reporter_id   INTEGER NOT NULL REFERENCES users(id),
    category      TEXT NOT NULL,
    lat           REAL NOT NULL,
    lon           REAL NOT NULL,
    description   TEXT NOT NULL DEFAULT '',
    status        TEXT NOT NULL,
    version       INTEGER NOT NULL DEFAULT 1,
    grid_id       TEXT,
    assignee_kind TEXT NOT NULL DEFAULT '',   -- grid | department | street_queue
    assignee      TEXT NOT NULL DEFAULT '',   -- grid id, department code or street id
    merged_into   INTEGER REFERENCES reports(id),
    rating        INTEGER,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    resolved_at   TEXT,
    closed_at     TEXT
);
CREATE INDEX reports_status ON reports(status);
CREATE INDEX reports_assignee ON reports(assignee_kind, assignee, status);
CREATE INDEX reports_reporter ON reports(reporter_id);
CREATE INDEX reports_near ON reports(category, lat, lon);

-- Everyone who reported the same thing (merged duplicates) is kept informed.
CREATE TABLE report_followers (
    report_id  INTEGER NOT NULL REFERENCES reports(id),
    user_id    INTEGER NOT NULL REFERENCES users(id),
    PRIMARY KEY (report_id, user_id)
);

CREATE TABLE report_photos (
    report_id  INTEGER NOT NULL REFERENCES reports(id),
    seq        INTEGER NOT NULL,
    phase      TEXT NOT NULL CHECK (phase IN ('before', 'after')),
    sha256     TEXT NOT NULL,
    file_ref   TEXT NOT NULL DEFAULT '',   -- the channel's file id (e.g. Telegram file_id), for re-sending
    added_by   INTEGER REFERENCES users(id),
    PRIMARY KEY (report_id, phase, seq)
);

-- Append-only audit log: who, when, from, to, note.
CREATE TABLE report_events (
    id           INTEGER PRIMARY KEY,
    report_id    INTEGER NOT NULL REFERENCES reports(id),
    at           TEXT NOT NULL,
    actor_id     INTEGER,
    action       TEXT NOT NULL,
    from_status  TEXT,
    to_status    TEXT,
    note         TEXT NOT NULL DEFAULT ''
);
CREATE INDEX report_events_report ON report_events(report_id, id);
CREATE TRIGGER report_events_no_update BEFORE UPDATE ON report_events
BEGIN SELECT RAISE(ABORT, 'report_events is append-only'); END;
CREATE TRIGGER report_events_no_delete BEFORE DELETE ON report_events
BEGIN SELECT RAISE(ABORT, 'report_events is append-only'); END;

-- Refused actions (forged buttons, wrong person), for the audit.
CREATE TABLE refusals (
    id         INTEGER PRIMARY KEY,
    at         TEXT NOT NULL,
    user_id    INTEGER,
    report_id  INTEGER,
    action     TEXT NOT NULL,
    reason     TEXT NOT NULL
);

-- Conversation state (a rider's draft report, a worker's pending "reason?" question) survives restarts.
CREATE TABLE dialogs (
    user_id     INTEGER PRIMARY KEY REFERENCES users(id),
    kind        TEXT NOT NULL,
    data        TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);

-- Points ledger (积分制): serve to earn points.
CREATE TABLE points (
    id         INTEGER PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users(id),
    delta      INTEGER NOT NULL,
    reason     TEXT NOT NULL,
    report_id  INTEGER REFERENCES reports(id),
    at         TEXT NOT NULL,
    UNIQUE (user_id, reason, report_id)
);

-- The durable outbox: written in the same transaction as the change it announces.
CREATE TABLE outbox (
    id          INTEGER PRIMARY KEY,
    idem_key    TEXT NOT NULL UNIQUE,
    user_id     INTEGER REFERENCES users(id),
    channel     TEXT NOT NULL,
    address     TEXT NOT NULL,             -- chat id / openid on that channel
    payload     TEXT NOT NULL,             -- channel-neutral message (JSON)
    status      TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sending', 'sent', 'dead')),
    attempts    INTEGER NOT NULL DEFAULT 0,
    next_at     TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    sent_at     TEXT,
    last_error  TEXT NOT NULL DEFAULT '',
    result_ref  TEXT NOT NULL DEFAULT ''    -- e.g. the sent message id
);
CREATE INDEX outbox_due ON outbox(status, next_at, id);
