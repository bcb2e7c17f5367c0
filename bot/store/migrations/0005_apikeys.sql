-- Open311 GeoReport v2 door: API keys for machine clients (a city platform), and the tokens returned by POST.
-- A key is stored only as the SHA-256 of its text (keys are 256-bit random, so no salt or slow hash is needed);
-- its name is the client's identity (users.channel = 'open311', external_id = name). Revoking keeps the row.
CREATE TABLE api_keys (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL,
    key_hash    TEXT NOT NULL UNIQUE,
    created_at  TEXT NOT NULL,
    revoked_at  TEXT
);
-- One live key per name; a revoked name may get a new key (rotation keeps the same client identity).
CREATE UNIQUE INDEX api_keys_live_name ON api_keys(name) WHERE revoked_at IS NULL;

-- Open311 "token" for each request created through the API (we create synchronously: the token resolves at once).
CREATE TABLE open311_tokens (
    token       TEXT PRIMARY KEY,
    report_id   INTEGER NOT NULL REFERENCES reports(id),
    key_id      INTEGER NOT NULL REFERENCES api_keys(id),
    created_at  TEXT NOT NULL
);
CREATE INDEX open311_tokens_report ON open311_tokens(report_id);
