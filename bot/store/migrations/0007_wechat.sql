-- The WeChat door (handlers/wechat/). WeChat retries a callback it got no answer to within 5 s (three tries in
-- all): every message is recorded here before it is processed, so a retry is recognised and processed once.
-- key: 'msg:<MsgId>' for messages, 'ev:<FromUserName>:<CreateTime>:<Event>' for events.
CREATE TABLE wechat_inbox (
    key          TEXT PRIMARY KEY,
    openid       TEXT NOT NULL,
    received_at  TEXT NOT NULL,
    status       TEXT NOT NULL DEFAULT 'processing' CHECK (status IN ('processing', 'done')),
    reply        TEXT NOT NULL DEFAULT ''   -- the passive reply given (XML before encryption), '' for "success"
);
CREATE INDEX wechat_inbox_received ON wechat_inbox(received_at);

-- The access token (valid 2 h), shared by every process that uses this database: one token, not one each.
CREATE TABLE wechat_tokens (
    appid       TEXT PRIMARY KEY,
    token       TEXT NOT NULL,
    expires_at  REAL NOT NULL,   -- unix time
    updated_at  REAL NOT NULL
);
