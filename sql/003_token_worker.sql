-- Per-worker cluster tokens: a cluster token with worker_id set may only
-- register, heartbeat, claim, post results and hold a nudge stream as
-- that worker id (broadway-admin token-add cluster --worker ID).  NULL:
-- a plain cluster token, good for any worker id.
ALTER TABLE api_token
	ADD COLUMN worker_id VARCHAR(128) CHARACTER SET ascii COLLATE ascii_bin NULL
	AFTER course_id;
