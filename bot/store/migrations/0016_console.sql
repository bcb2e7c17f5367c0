-- The web console (handlers/console/): one-time sign-in links sent in the chat, and the sessions they start.
-- Only SHA-256 hashes of the secrets are stored: a copy of the database opens no console.
CREATE TABLE console_links (
    token_hash  TEXT PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES users(id),
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL,
    used_at     TEXT
);
CREATE INDEX console_links_user ON console_links(user_id, created_at);

CREATE TABLE console_sessions (
    token_hash    TEXT PRIMARY KEY,
    user_id       INTEGER NOT NULL REFERENCES users(id),
    created_at    TEXT NOT NULL,
    expires_at    TEXT NOT NULL,
    signed_out_at TEXT
);
CREATE INDEX console_sessions_user ON console_sessions(user_id);

-- The map's viewport query: a bounding box over the points (see bench/ and docs/PERFORMANCE.md).
CREATE INDEX reports_lat_lon ON reports(lat, lon);
