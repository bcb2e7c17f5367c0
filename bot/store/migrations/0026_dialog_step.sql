-- The update whose words last closed the person's pending question (a worker's note for 办结, a reason for 退回 or
-- 转派, a rider's typed 取消) and what that question was (JSON: its kind and what its owner needs to answer again).
-- Written in the transaction that closed it: the same update run again after a kill (docs/RELIABILITY.md,
-- promise 18) is then answered as done, not read afresh as a place search. A question the words only moved on
-- (a typed answer, a report's description) carries the update in its own dialog data instead ("by").
ALTER TABLE users ADD COLUMN dialog_step TEXT;
ALTER TABLE users ADD COLUMN dialog_answered TEXT;
