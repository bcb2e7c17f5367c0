-- 👍 我也遇到: a rider confirms a public hazard someone else reported (counted on the report, no second report).
-- Not a follower: a confirmation earns no points and gives no right to rate or reopen.
CREATE TABLE report_confirmations (
    report_id  INTEGER NOT NULL REFERENCES reports(id),
    user_id    INTEGER NOT NULL REFERENCES users(id),
    at         TEXT NOT NULL,
    PRIMARY KEY (report_id, user_id)
);
