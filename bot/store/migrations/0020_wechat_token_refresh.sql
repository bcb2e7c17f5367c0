-- One process refreshes the shared WeChat access token at a time (bot/store/wechat_tokens.py): a refresh is
-- claimed by setting `refresh_until` (a lease, so a refresher that dies is replaced once it expires), a failed
-- fetch keeps the lease for a short back-off and says why, so other processes fail fast instead of all asking
-- WeChat again. `fetches` counts tokens fetched (each one retires the one before it).
ALTER TABLE wechat_tokens ADD COLUMN refresh_until REAL NOT NULL DEFAULT 0;
ALTER TABLE wechat_tokens ADD COLUMN failed_at REAL NOT NULL DEFAULT 0;
ALTER TABLE wechat_tokens ADD COLUMN last_error TEXT NOT NULL DEFAULT '';
ALTER TABLE wechat_tokens ADD COLUMN fetches INTEGER NOT NULL DEFAULT 0;
