-- Broadway-C schema, version 1.
-- Ids handed to clients are random 24-hex strings (public_id); the
-- AUTO_INCREMENT primary keys give FIFO order and never leave the API.
-- Enum columns are small integers; their names live in common/states.c.

CREATE TABLE course (
	id		VARCHAR(128) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
	created_at	DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)
) ENGINE=InnoDB;

-- Only SHA-256 digests are kept.  kind: 0 admin, 1 query, 2 cluster.
-- Cluster tokens have no course.  One token may be valid for several
-- courses: it then has one row per course.
CREATE TABLE api_token (
	id		BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY,
	digest		BINARY(32) NOT NULL,
	kind		TINYINT UNSIGNED NOT NULL,
	course_id	VARCHAR(128) CHARACTER SET ascii COLLATE ascii_bin NULL,
	label		VARCHAR(128) NOT NULL DEFAULT '',
	created_at	DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
	revoked_at	DATETIME(6) NULL,
	KEY token_digest (digest),
	KEY token_course (course_id, revoked_at),
	KEY token_kind (kind, revoked_at),
	CONSTRAINT token_course_fk FOREIGN KEY (course_id) REFERENCES course (id) ON DELETE CASCADE
) ENGINE=InnoDB;

-- The config exactly as uploaded (compact JSON).
CREATE TABLE assignment_config (
	course_id	VARCHAR(128) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
	assignment_id	VARCHAR(128) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
	config		MEDIUMTEXT NOT NULL,
	updated_at	DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
	PRIMARY KEY (course_id, assignment_id),
	CONSTRAINT config_course_fk FOREIGN KEY (course_id) REFERENCES course (id) ON DELETE CASCADE
) ENGINE=InnoDB;

-- state: 0 READY, 1 PRE_PROCESSING_STAGE, 2 STUDENTS_STAGE,
--        3 POST_PROCESSING_STAGE, 4 FINISHED, 5 FAILED.
-- config is a snapshot taken when the run starts, so editing the
-- assignment mid-run does not change the later stages of this run.
CREATE TABLE grading_run (
	id		BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY,
	public_id	CHAR(24) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
	course_id	VARCHAR(128) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
	assignment_id	VARCHAR(128) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
	state		TINYINT UNSIGNED NOT NULL,
	config		MEDIUMTEXT NOT NULL,
	pre_env		MEDIUMTEXT NULL,
	post_env	MEDIUMTEXT NULL,
	students_env	LONGTEXT NOT NULL,
	students_total	INT UNSIGNED NOT NULL,
	students_left	INT UNSIGNED NOT NULL,
	created_at	DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
	finished_at	DATETIME(6) NULL,
	UNIQUE KEY run_public (public_id),
	KEY run_course (course_id, created_at)
) ENGINE=InnoDB;

-- kind: 0 pre, 1 student, 2 post.
-- state: 0 QUEUED, 1 STARTED, 2 FAILED, 3 SUCCEEDED.
-- run_env is this job's own layer (the student's object, or the pre/post
-- env); the stages are layered afresh from the run's config at claim time.
-- attempt counts claims; a result must quote the attempt it was given.
CREATE TABLE grading_job (
	id		BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY,
	public_id	CHAR(24) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
	run_id		BIGINT UNSIGNED NOT NULL,
	course_id	VARCHAR(128) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
	kind		TINYINT UNSIGNED NOT NULL,
	state		TINYINT UNSIGNED NOT NULL,
	run_env		MEDIUMTEXT NOT NULL,
	worker_id	VARCHAR(128) CHARACTER SET ascii COLLATE ascii_bin NULL,
	attempt		INT UNSIGNED NOT NULL DEFAULT 0,
	queued_at	DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
	started_at	DATETIME(6) NULL,
	finished_at	DATETIME(6) NULL,
	success		TINYINT NULL,
	infra_failure	TINYINT NOT NULL DEFAULT 0,
	results		MEDIUMTEXT NULL,
	UNIQUE KEY job_public (public_id),
	KEY job_queue (state, course_id, id),
	KEY job_run (run_id),		/* InnoDB appends id: status lists in id order */
	KEY job_worker (worker_id, state)
) ENGINE=InnoDB;

CREATE TABLE job_log (
	job_id		BIGINT UNSIGNED NOT NULL PRIMARY KEY,
	stdout		MEDIUMTEXT NOT NULL,
	stderr		MEDIUMTEXT NOT NULL
) ENGINE=InnoDB;

CREATE TABLE worker (
	id		VARCHAR(128) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
	hostname	VARCHAR(255) NOT NULL,
	slots		INT UNSIGNED NOT NULL,
	alive		TINYINT NOT NULL,
	jobs_processed	BIGINT UNSIGNED NOT NULL DEFAULT 0,
	registered_at	DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
	last_seen	DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
	KEY worker_alive (alive, last_seen)
) ENGINE=InnoDB;

-- One row.  rr_course is the course served last by the round robin;
-- claims lock this row, which serialises them and keeps the order exact.
-- last_sweep throttles the dead-worker sweep to one per second cluster-wide.
CREATE TABLE scheduler (
	id		TINYINT UNSIGNED NOT NULL PRIMARY KEY,
	rr_course	VARCHAR(128) CHARACTER SET ascii COLLATE ascii_bin NOT NULL DEFAULT '',
	last_sweep	DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)
) ENGINE=InnoDB;
INSERT INTO scheduler (id) VALUES (1);

-- Job state changes, written in the same transaction as the change, read
-- by broadway-sse.  state is the job's new state (0 QUEUED means requeued).
-- job_id 0 with state 0: new jobs of the course were queued (one row per
-- batch), which broadway-sse passes on to waiting workers.
-- Pruned by the sweep after an hour.
CREATE TABLE job_event (
	id		BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY,
	job_id		BIGINT UNSIGNED NOT NULL,
	course_id	VARCHAR(128) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
	state		TINYINT UNSIGNED NOT NULL,
	created_at	DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
	KEY event_time (created_at),
	KEY event_job (job_id, id)
) ENGINE=InnoDB;
