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
