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
