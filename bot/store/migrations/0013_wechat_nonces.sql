-- WeChat callbacks in plain mode are signed over (token, timestamp, nonce) only, not the body: an old signed URL
-- from an access log could carry any body. The door refuses timestamps more than 5 minutes off and remembers
-- each (timestamp, nonce) it accepted for that long, with a hash of the body: WeChat's own retries (same URL,
-- same body) pass; the same URL with another body is a replay. In the database, so it holds across restarts.
CREATE TABLE wechat_nonces (
    timestamp    INTEGER NOT NULL,   -- the request's, unix seconds
    nonce        TEXT NOT NULL,
    body_sha256  TEXT NOT NULL,
    seen_at      REAL NOT NULL,      -- unix time we first saw it, for purging
    PRIMARY KEY (timestamp, nonce)
);
CREATE INDEX wechat_nonces_seen ON wechat_nonces(seen_at);
