-- Points that buy something: the ledger, rewards, one-time redemption codes.

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
