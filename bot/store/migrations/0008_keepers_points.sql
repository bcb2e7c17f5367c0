-- Station keepers (驿站管理员), live station status, riders' corrections and suggestions, points that buy something.

-- The roles table gains 'keeper' (scope: a place id). SQLite cannot change a CHECK, so the table is rebuilt.
CREATE TABLE roles_new (
    user_id     INTEGER NOT NULL REFERENCES users(id),
    role        TEXT NOT NULL CHECK (role IN ('worker', 'supervisor', 'department', 'admin', 'keeper')),
    scope       TEXT NOT NULL DEFAULT '',
    granted_at  TEXT NOT NULL,
    granted_by  TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (user_id, role, scope)
);
INSERT INTO roles_new (user_id, role, scope, granted_at, granted_by)
    SELECT user_id, role, scope, granted_at, granted_by FROM roles;
DROP TABLE roles;
ALTER TABLE roles_new RENAME TO roles;
CREATE INDEX roles_scope ON roles(role, scope);

-- What a keeper (or an admin) said about a place from the chat: today's status, the entrance photo, when it
-- was last updated and confirmed, and whether riders dispute it (待核实). Hours, amenities and phone are
-- changed in `places` itself.
CREATE TABLE place_live (
    place_id      TEXT PRIMARY KEY REFERENCES places(id),
    status        TEXT NOT NULL DEFAULT 'open'
                  CHECK (status IN ('open', 'closed', 'full', 'no_power', 'no_water')),
    note          TEXT NOT NULL DEFAULT '',
    until         TEXT,
    photo         TEXT NOT NULL DEFAULT '',
    updated_at    TEXT,
    updated_by    INTEGER REFERENCES users(id),
    confirmed_at  TEXT,
    confirmed_by  TEXT NOT NULL DEFAULT '',
    disputed_at   TEXT
);

-- Every change a keeper or admin makes to a place, old and new value.
CREATE TABLE place_audit (
    id        INTEGER PRIMARY KEY,
    place_id  TEXT NOT NULL,
    actor_id  INTEGER REFERENCES users(id),
    field     TEXT NOT NULL,
    old       TEXT NOT NULL DEFAULT '',
    new       TEXT NOT NULL DEFAULT '',
    at        TEXT NOT NULL
);
CREATE INDEX place_audit_place ON place_audit(place_id, at);

-- Riders' corrections (⚠️ 信息有误).
CREATE TABLE place_flags (
    id           INTEGER PRIMARY KEY,
    place_id     TEXT NOT NULL REFERENCES places(id),
    user_id      INTEGER NOT NULL REFERENCES users(id),
    reason       TEXT NOT NULL
                 CHECK (reason IN ('closed', 'moved', 'no_water', 'no_power', 'wrong_phone', 'not_let_in', 'other')),
    note         TEXT NOT NULL DEFAULT '',
    photo        TEXT NOT NULL DEFAULT '',
    state        TEXT NOT NULL DEFAULT 'draft' CHECK (state IN ('draft', 'open', 'confirmed', 'rejected')),
    created_at   TEXT NOT NULL,
    resolved_by  INTEGER REFERENCES users(id),
    resolved_at  TEXT
);
CREATE INDEX place_flags_place ON place_flags(place_id, state, created_at);

-- Places riders suggest; admins approve (the place is created) or decline.
CREATE TABLE place_suggestions (
    id          INTEGER PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES users(id),
    name        TEXT NOT NULL DEFAULT '',
    kind        TEXT NOT NULL DEFAULT '',
    lat         REAL,
    lon         REAL,
    photo       TEXT NOT NULL DEFAULT '',
    state       TEXT NOT NULL DEFAULT 'draft' CHECK (state IN ('draft', 'pending', 'approved', 'declined')),
    created_at  TEXT NOT NULL,
    decided_by  INTEGER REFERENCES users(id),
    decided_at  TEXT,
    place_id    TEXT
);

-- The points table becomes an append-only ledger: every movement has a kind, existing rows were earned.
-- `ref` is an idempotency key (a redemption, a correction), unique when present.
ALTER TABLE points ADD COLUMN kind TEXT NOT NULL DEFAULT 'earned'
    CHECK (kind IN ('earned', 'spent', 'expired', 'adjusted'));
ALTER TABLE points ADD COLUMN ref TEXT;
ALTER TABLE points ADD COLUMN note TEXT NOT NULL DEFAULT '';
ALTER TABLE points ADD COLUMN actor TEXT NOT NULL DEFAULT '';
CREATE UNIQUE INDEX points_ref ON points(ref) WHERE ref IS NOT NULL;
CREATE INDEX points_user ON points(user_id, id);
CREATE TRIGGER points_no_update BEFORE UPDATE ON points
BEGIN
    SELECT RAISE(ABORT, 'the points ledger is append-only');
END;
CREATE TRIGGER points_no_delete BEFORE DELETE ON points
BEGIN
    SELECT RAISE(ABORT, 'the points ledger is append-only');
END;

-- Rewards a place offers for points (rider-bot rewards import).
CREATE TABLE rewards (
    id           INTEGER PRIMARY KEY,
    place_id     TEXT NOT NULL REFERENCES places(id),
    name         TEXT NOT NULL,
    cost         INTEGER NOT NULL CHECK (cost > 0),
    daily_stock  INTEGER NOT NULL CHECK (daily_stock >= 0),
    valid_from   TEXT NOT NULL,
    valid_to     TEXT NOT NULL,
    active       INTEGER NOT NULL DEFAULT 1,
    updated_at   TEXT NOT NULL,
    UNIQUE (place_id, name)
);

-- One-time redemption codes (six digits, 30 minutes); points are spent when the keeper confirms.
CREATE TABLE redemptions (
    id            INTEGER PRIMARY KEY,
    code          TEXT NOT NULL,
    user_id       INTEGER NOT NULL REFERENCES users(id),
    reward_id     INTEGER NOT NULL REFERENCES rewards(id),
    place_id      TEXT NOT NULL,
    cost          INTEGER NOT NULL,
    created_at    TEXT NOT NULL,
    expires_at    TEXT NOT NULL,
    state         TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'used')),
    confirmed_by  INTEGER REFERENCES users(id),
    confirmed_at  TEXT,
    local_day     TEXT
);
CREATE INDEX redemptions_code ON redemptions(code, expires_at);
CREATE INDEX redemptions_stock ON redemptions(reward_id, local_day, state);
