-- Broadway-C schema, version 2: reporting for DBAs (see sql/README.md).
-- Nothing here is read or written by the programs: the lookup tables,
-- the report_* views over the tables of 001, and a read-only role and
-- account that may SELECT the views and nothing else.
--
-- The migration must run as an account that may create roles and users
-- and grant privileges (root over the socket, as docs/deploy.md says).
-- The views run with the rights of that account (SQL SECURITY DEFINER),
-- which is how the reporting role reads jobs without SELECT on any base
-- table, and never on api_token.

-- The names of the integer columns, exactly as common/states.c spells
-- them (tests/unit/test_states_sql.c compares every row to it).
CREATE TABLE run_state (
	code		TINYINT UNSIGNED NOT NULL PRIMARY KEY,
	name		VARCHAR(32) CHARACTER SET ascii NOT NULL,
	UNIQUE KEY run_state_name (name)
) ENGINE=InnoDB;
INSERT INTO run_state (code, name) VALUES
	(0, 'READY'),
	(1, 'PRE_PROCESSING_STAGE'),
	(2, 'STUDENTS_STAGE'),
	(3, 'POST_PROCESSING_STAGE'),
	(4, 'FINISHED'),
	(5, 'FAILED');

CREATE TABLE job_state (
	code		TINYINT UNSIGNED NOT NULL PRIMARY KEY,
	name		VARCHAR(32) CHARACTER SET ascii NOT NULL,
	UNIQUE KEY job_state_name (name)
) ENGINE=InnoDB;
INSERT INTO job_state (code, name) VALUES
	(0, 'QUEUED'),
	(1, 'STARTED'),
	(2, 'FAILED'),
	(3, 'SUCCEEDED');

CREATE TABLE job_kind (
	code		TINYINT UNSIGNED NOT NULL PRIMARY KEY,
	name		VARCHAR(32) CHARACTER SET ascii NOT NULL,
	UNIQUE KEY job_kind_name (name)
) ENGINE=InnoDB;
INSERT INTO job_kind (code, name) VALUES
	(0, 'pre'),
	(1, 'student'),
	(2, 'post');

CREATE TABLE token_kind (
	code		TINYINT UNSIGNED NOT NULL PRIMARY KEY,
	name		VARCHAR(32) CHARACTER SET ascii NOT NULL,
	UNIQUE KEY token_kind_name (name)
) ENGINE=InnoDB;
INSERT INTO token_kind (code, name) VALUES
	(0, 'admin'),
	(1, 'query'),
	(2, 'cluster');

-- Every lookup row in one place, for the reporting role (which may not
-- read the tables themselves).
CREATE OR REPLACE SQL SECURITY DEFINER VIEW report_codes AS
	SELECT 'run_state' AS domain, code, name FROM run_state
	UNION ALL SELECT 'job_state', code, name FROM job_state
	UNION ALL SELECT 'job_kind', code, name FROM job_kind
	UNION ALL SELECT 'token_kind', code, name FROM token_kind;

-- One row per job.  Times are in the server's time zone, as stored.
-- queue_wait_s runs from the job's creation to its last claim (a requeued
-- job keeps its place and its queued_at), run_s from that claim to the
-- end.  Results are the worker's stage list, which stops at the first
-- stage that failed, so its last entry says why a job failed:
--   infrastructure  infra_failure (the lease was lost max_attempts times),
--                   or the worker reported an error without a timeout or
--                   an OOM kill (podman exit 125, podman died, invalid
--                   stage options, no job directory: no stage ran)
--   timeout         the stage timed out (the worker's own precedence)
--   out_of_memory   the container was OOM-killed
--   exit_code       the stage's command exited non-zero (exit_code says)
--   other           a failure none of the above explains
CREATE OR REPLACE SQL SECURITY DEFINER VIEW report_jobs AS
	SELECT
		j.public_id AS job_id,
		r.public_id AS run_id,
		j.course_id AS course,
		r.assignment_id AS assignment,
		COALESCE(k.name, 'UNKNOWN') AS kind,
		COALESCE(s.name, 'UNKNOWN') AS state,
		j.attempt,
		j.worker_id AS worker,
		j.queued_at,
		j.started_at,
		j.finished_at,
		CAST(ROUND(TIMESTAMPDIFF(MICROSECOND, j.queued_at, j.started_at)
		    / 1000) / 1000 AS DECIMAL(14,3)) AS queue_wait_s,
		CAST(ROUND(TIMESTAMPDIFF(MICROSECOND, j.started_at, j.finished_at)
		    / 1000) / 1000 AS DECIMAL(14,3)) AS run_s,
		CAST(ROUND(TIMESTAMPDIFF(MICROSECOND, j.queued_at, j.finished_at)
		    / 1000) / 1000 AS DECIMAL(14,3)) AS total_s,
		j.success,
		j.infra_failure,
		CASE
		WHEN j.state <> 2 THEN NULL
		WHEN j.infra_failure <> 0 THEN 'infrastructure'
		WHEN JSON_VALUE(j.results, '$[last].timed_out') = 1
		    THEN 'timeout'
		WHEN JSON_VALUE(j.results, '$[last].oom_killed') = 1
		    THEN 'out_of_memory'
		WHEN JSON_VALUE(j.results, '$[last].error') IS NOT NULL
		    OR JSON_LENGTH(j.results) = 0 THEN 'infrastructure'
		WHEN JSON_VALUE(j.results, '$[last].exit_code') <> 0
		    THEN 'exit_code'
		ELSE 'other'
		END AS failure_reason,
		JSON_LENGTH(j.results) AS stages_run,
		CAST(JSON_VALUE(j.results, '$[last].exit_code') AS SIGNED)
		    AS last_exit_code,
		COALESCE(JSON_VALUE(j.results, '$[last].error'),
		    JSON_VALUE(j.results, '$[last].result')) AS last_error
	FROM grading_job j
	JOIN grading_run r ON r.id = j.run_id
	LEFT JOIN job_kind k ON k.code = j.kind
	LEFT JOIN job_state s ON s.code = j.state;

-- One row per run with its state by name and its jobs counted.
CREATE OR REPLACE SQL SECURITY DEFINER VIEW report_runs AS
	SELECT
		r.public_id AS run_id,
		r.course_id AS course,
		r.assignment_id AS assignment,
		COALESCE(s.name, 'UNKNOWN') AS state,
		r.students_total,
		r.students_left,
		(SELECT COUNT(*) FROM grading_job j WHERE j.run_id = r.id)
		    AS jobs,
		(SELECT COUNT(*) FROM grading_job j WHERE j.run_id = r.id
		    AND j.state = 3) AS jobs_succeeded,
		(SELECT COUNT(*) FROM grading_job j WHERE j.run_id = r.id
		    AND j.state = 2) AS jobs_failed,
		r.created_at,
		r.finished_at,
		CAST(ROUND(TIMESTAMPDIFF(MICROSECOND, r.created_at, r.finished_at)
		    / 1000) / 1000 AS DECIMAL(14,3)) AS duration_s
	FROM grading_run r
	LEFT JOIN run_state s ON s.code = r.state;

-- Jobs that ended, per course and clock hour of their end.
CREATE OR REPLACE SQL SECURITY DEFINER VIEW report_throughput_hourly AS
	SELECT
		course,
		CAST(DATE_FORMAT(finished_at, '%Y-%m-%d %H:00:00') AS DATETIME)
		    AS hour,
		COUNT(*) AS jobs_finished,
		SUM(state = 'SUCCEEDED') AS jobs_succeeded,
		SUM(state = 'FAILED') AS jobs_failed,
		CAST(AVG(run_s) AS DECIMAL(14,3)) AS mean_run_s
	FROM report_jobs
	WHERE finished_at IS NOT NULL
	GROUP BY course, hour;

-- Queue wait and run time percentiles per assignment and job kind, over
-- the jobs that ended.  Infrastructure failures are left out: their run
-- time is the time until the API gave up on a lost worker.
-- The percentiles are PERCENTILE_CONT's (linear between the two nearest
-- ranks), computed from ROW_NUMBER and COUNT windows: PERCENTILE_CONT
-- itself, six times over one window, had not finished after 400 s for
-- one course of 50,000 jobs (sql/README.md); this takes 2 s.
CREATE OR REPLACE SQL SECURITY DEFINER VIEW report_assignment_latency AS
	SELECT
		course,
		assignment,
		kind,
		jobs,
		CAST(w50_lo + (0.5 * (jobs - 1) - FLOOR(0.5 * (jobs - 1)))
		    * (w50_hi - w50_lo) AS DECIMAL(14,3)) AS queue_wait_p50_s,
		CAST(w90_lo + (0.9 * (jobs - 1) - FLOOR(0.9 * (jobs - 1)))
		    * (w90_hi - w90_lo) AS DECIMAL(14,3)) AS queue_wait_p90_s,
		CAST(w99_lo + (0.99 * (jobs - 1) - FLOOR(0.99 * (jobs - 1)))
		    * (w99_hi - w99_lo) AS DECIMAL(14,3)) AS queue_wait_p99_s,
		queue_wait_max_s,
		CAST(r50_lo + (0.5 * (jobs - 1) - FLOOR(0.5 * (jobs - 1)))
		    * (r50_hi - r50_lo) AS DECIMAL(14,3)) AS run_p50_s,
		CAST(r90_lo + (0.9 * (jobs - 1) - FLOOR(0.9 * (jobs - 1)))
		    * (r90_hi - r90_lo) AS DECIMAL(14,3)) AS run_p90_s,
		CAST(r99_lo + (0.99 * (jobs - 1) - FLOOR(0.99 * (jobs - 1)))
		    * (r99_hi - r99_lo) AS DECIMAL(14,3)) AS run_p99_s,
		run_max_s
	FROM (
		SELECT
			course,
			assignment,
			kind,
			n AS jobs,
			MAX(IF(wait_rank = FLOOR(0.5 * (n - 1)), queue_wait_s, NULL))
			    AS w50_lo,
			MAX(IF(wait_rank = CEIL(0.5 * (n - 1)), queue_wait_s, NULL))
			    AS w50_hi,
			MAX(IF(wait_rank = FLOOR(0.9 * (n - 1)), queue_wait_s, NULL))
			    AS w90_lo,
			MAX(IF(wait_rank = CEIL(0.9 * (n - 1)), queue_wait_s, NULL))
			    AS w90_hi,
			MAX(IF(wait_rank = FLOOR(0.99 * (n - 1)), queue_wait_s, NULL))
			    AS w99_lo,
			MAX(IF(wait_rank = CEIL(0.99 * (n - 1)), queue_wait_s, NULL))
			    AS w99_hi,
			MAX(IF(run_rank = FLOOR(0.5 * (n - 1)), run_s, NULL))
			    AS r50_lo,
			MAX(IF(run_rank = CEIL(0.5 * (n - 1)), run_s, NULL))
			    AS r50_hi,
			MAX(IF(run_rank = FLOOR(0.9 * (n - 1)), run_s, NULL))
			    AS r90_lo,
			MAX(IF(run_rank = CEIL(0.9 * (n - 1)), run_s, NULL))
			    AS r90_hi,
			MAX(IF(run_rank = FLOOR(0.99 * (n - 1)), run_s, NULL))
			    AS r99_lo,
			MAX(IF(run_rank = CEIL(0.99 * (n - 1)), run_s, NULL))
			    AS r99_hi,
			MAX(queue_wait_s) AS queue_wait_max_s,
			MAX(run_s) AS run_max_s
		FROM (
			SELECT
				course,
				assignment,
				kind,
				queue_wait_s,
				run_s,
				ROW_NUMBER() OVER (PARTITION BY course, assignment,
				    kind ORDER BY queue_wait_s) - 1 AS wait_rank,
				ROW_NUMBER() OVER (PARTITION BY course, assignment,
				    kind ORDER BY run_s) - 1 AS run_rank,
				COUNT(*) OVER (PARTITION BY course, assignment,
				    kind) AS n
			FROM report_jobs
			WHERE started_at IS NOT NULL
			    AND finished_at IS NOT NULL AND infra_failure = 0
		) ranked
		GROUP BY course, assignment, kind, n
	) ends;

-- Failed jobs by reason (see report_jobs); exit_code is set for the
-- reason 'exit_code' only, one row per code.
CREATE OR REPLACE SQL SECURITY DEFINER VIEW report_failures AS
	SELECT
		course,
		assignment,
		failure_reason AS reason,
		CASE WHEN failure_reason = 'exit_code' THEN last_exit_code END
		    AS exit_code,
		COUNT(*) AS jobs,
		MIN(finished_at) AS first_at,
		MAX(finished_at) AS last_at
	FROM report_jobs
	WHERE state = 'FAILED'
	GROUP BY course, assignment, reason, exit_code;

-- Per worker: how many of its slots are busy now, and the share of its
-- slot time spent on jobs over the last hour and day.  A job counts from
-- its claim to its end (or now), clipped to the window; the window
-- starts no earlier than the worker's first registration.  A job counts
-- for the worker that claimed it last.
CREATE OR REPLACE SQL SECURITY DEFINER VIEW report_worker_utilisation AS
	SELECT
		w.id AS worker,
		w.hostname,
		w.slots,
		w.alive,
		w.registered_at,
		w.last_seen,
		w.jobs_processed,
		COALESCE(b.running, 0) AS running,
		CAST(ROUND(COALESCE(b.busy_1h, 0) / 1000) / 1000
		    AS DECIMAL(14,3))
		    AS busy_1h_s,
		CAST(COALESCE(b.busy_1h, 0) / (w.slots * GREATEST(1,
		    TIMESTAMPDIFF(MICROSECOND, GREATEST(w.registered_at,
		    b.now - INTERVAL 1 HOUR), b.now))) AS DECIMAL(6,4))
		    AS utilisation_1h,
		CAST(ROUND(COALESCE(b.busy_24h, 0) / 1000) / 1000
		    AS DECIMAL(14,3))
		    AS busy_24h_s,
		CAST(COALESCE(b.busy_24h, 0) / (w.slots * GREATEST(1,
		    TIMESTAMPDIFF(MICROSECOND, GREATEST(w.registered_at,
		    b.now - INTERVAL 1 DAY), b.now))) AS DECIMAL(6,4))
		    AS utilisation_24h
	FROM worker w
	JOIN (
		SELECT
			wn.worker_id,
			wn.now,
			SUM(j.state = 1) AS running,
			SUM(GREATEST(0, TIMESTAMPDIFF(MICROSECOND,
			    GREATEST(j.started_at, wn.now - INTERVAL 1 HOUR),
			    LEAST(COALESCE(j.finished_at, wn.now), wn.now))))
			    AS busy_1h,
			SUM(GREATEST(0, TIMESTAMPDIFF(MICROSECOND,
			    GREATEST(j.started_at, wn.now - INTERVAL 1 DAY),
			    LEAST(COALESCE(j.finished_at, wn.now), wn.now))))
			    AS busy_24h
		FROM (SELECT id AS worker_id, CURRENT_TIMESTAMP(6) AS now
		    FROM worker) wn
		LEFT JOIN grading_job j ON j.worker_id = wn.worker_id
		    AND j.started_at IS NOT NULL
		    AND (j.finished_at IS NULL
		    OR j.finished_at > wn.now - INTERVAL 1 DAY)
		GROUP BY wn.worker_id, wn.now
	) b ON b.worker_id = w.id;

-- Runs per course and day of their start.
CREATE OR REPLACE SQL SECURITY DEFINER VIEW report_runs_daily AS
	SELECT
		DATE(created_at) AS day,
		course,
		COUNT(*) AS runs,
		SUM(state = 'FINISHED') AS runs_finished,
		SUM(state = 'FAILED') AS runs_failed,
		SUM(state NOT IN ('FINISHED', 'FAILED')) AS runs_in_progress,
		SUM(students_total) AS students,
		SUM(jobs) AS jobs,
		CAST(AVG(duration_s) AS DECIMAL(14,3)) AS mean_duration_s,
		MAX(duration_s) AS max_duration_s
	FROM report_runs
	GROUP BY day, course;

-- The reporting role: SELECT on the views, nothing else.  The account of
-- the same name logs in over the unix socket as the system user
-- broadway_report; people get the role on their own accounts instead
-- (sql/README.md).  Both are global to the server, the grants are on
-- this database's views.
CREATE ROLE IF NOT EXISTS broadway_report;
GRANT SELECT ON report_codes TO broadway_report;
GRANT SELECT ON report_jobs TO broadway_report;
GRANT SELECT ON report_runs TO broadway_report;
GRANT SELECT ON report_throughput_hourly TO broadway_report;
GRANT SELECT ON report_assignment_latency TO broadway_report;
GRANT SELECT ON report_failures TO broadway_report;
GRANT SELECT ON report_worker_utilisation TO broadway_report;
GRANT SELECT ON report_runs_daily TO broadway_report;
CREATE USER IF NOT EXISTS 'broadway_report'@'localhost' IDENTIFIED VIA unix_socket;
GRANT broadway_report TO 'broadway_report'@'localhost';
SET DEFAULT ROLE broadway_report FOR 'broadway_report'@'localhost';
