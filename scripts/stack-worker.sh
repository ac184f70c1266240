# shellcheck shell=bash
# The stack's local broadway-worker, sourced by scripts/stack.sh (uses its
# helpers and settings: DIR, WDIR, STORE, BUILD, SLOTS, daemon_start ...).
#
# One worker grades on this machine so that a run started after `make up`
# finishes.  No registry is reachable, so its image is built here from
# busybox-static by tests/images/build-busybox.sh into the stack's store
# DIR/podman (the store `make demo` adds its gcc image to, and the layout
# the tests use), once: later starts find it cached.
#
#   DIR/worker/worker.conf   written on every start from the stack's settings
#   DIR/worker/token         the cluster token (0600)
#   DIR/worker/worker.log    what the worker says (appended)
#   DIR/worker/worker.pid
#   DIR/worker/{jobs,spool}  its work directory

# The image a course names in its stages to be graded by this worker.
# Bump the tag when tests/images/build-busybox.sh changes what it builds.
WORKER_IMAGE=localhost/broadway-busybox:1
WORKER_ID=local-worker
WAIT_REGISTER=30	# seconds
WAIT_DRAIN=20		# seconds a stopping worker may finish its jobs

worker_conf() {
	local conf
	conf=$("$ROOT/tests/images/build-busybox.sh" "$STORE" "$WORKER_IMAGE" \
	    2>"$LOGS/worker-image.log") ||
	    { log_tail "$LOGS/worker-image.log"; die "building $WORKER_IMAGE failed"; }
	CONTAINERS_CONF_FILE=$(sed -n 's/^CONTAINERS_CONF=//p' <<<"$conf")
	STORAGE_CONF_FILE=$(sed -n 's/^CONTAINERS_STORAGE_CONF=//p' <<<"$conf")
	mkdir -p "$WDIR"
	chmod 700 "$WDIR"
	(umask 077 && printf '%s\n' "$CLUSTER_TOKEN" >"$WDIR/token.new") &&
	    mv "$WDIR/token.new" "$WDIR/token"
	# pids_limit 64 and no network: the settings of the demo's grading,
	# so the demo's fork bomb is contained here too.
	cat >"$WDIR/worker.conf.new" <<-EOF
		# Written by scripts/stack.sh: the stack's local broadway-worker.
		api_url = https://127.0.0.1:$PORT/api/v1
		ca_file = $TLS/server.crt
		token_file = $WDIR/token
		worker_id = $WORKER_ID
		slots = $SLOTS
		containers_conf = $CONTAINERS_CONF_FILE
		storage_conf = $STORAGE_CONF_FILE
		work_dir = $WDIR
		allow_network = no
		allow_privileged = no
		pids_limit = 64
		# Images are built on this machine: never pull.
		pull = never
	EOF
	mv "$WDIR/worker.conf.new" "$WDIR/worker.conf"
}

worker_start() {
	local pid mark deadline
	[ -x "$BUILD/broadway-worker" ] || die "$BUILD/broadway-worker not built (run make)"
	if pid=$(pid_of broadway-worker "$WDIR/worker.pid"); then
		note "broadway-worker already running (pid $pid)"
		return 0
	fi
	[ -n "${PORT:-}" ] || PORT=$(env_old BROADWAY_HTTPS_PORT)
	[ -n "$PORT" ] || die "no port recorded in $ENVF (run up first)"
	[ -n "${CLUSTER_TOKEN:-}" ] || demo_setup
	worker_conf
	mark=$(stat -c %s "$WDIR/worker.log" 2>/dev/null || echo 0)
	daemon_start "$WDIR/worker.log" "$BUILD/broadway-worker" -d -f "$WDIR/worker.conf"
	pid=$DAEMON_PID
	echo "$pid" >"$WDIR/worker.pid"
	deadline=$((SECONDS + WAIT_REGISTER))
	until tail -c +$((mark + 1)) "$WDIR/worker.log" | grep -q "registered as"; do
		alive "$pid" || { log_tail "$WDIR/worker.log"; die "broadway-worker exited at startup"; }
		[ $SECONDS -ge $deadline ] &&
		    { log_tail "$WDIR/worker.log"; die "broadway-worker did not register within ${WAIT_REGISTER}s"; }
		sleep 0.05
	done
	note "broadway-worker running (pid $pid, $SLOTS slots, image $WORKER_IMAGE)"
}

# SIGTERM drains (running jobs finish and report); a second one stops
# the containers at once, leaving unsent results in the spool for the
# next start.
worker_stop() {
	local pid deadline
	if ! pid=$(pid_of broadway-worker "$WDIR/worker.pid"); then
		rm -f "$WDIR/worker.pid"
		return 0
	fi
	kill -TERM "$pid" 2>/dev/null || true
	deadline=$((SECONDS + WAIT_DRAIN))
	while alive "$pid" && [ $SECONDS -lt $deadline ]; do
		sleep 0.05
	done
	if alive "$pid"; then
		note "broadway-worker still draining after ${WAIT_DRAIN}s: stopping its jobs"
		kill -TERM "$pid" 2>/dev/null || true
		wait_gone "$pid"
	fi
	rm -f "$WDIR/worker.pid"
	note "broadway-worker stopped"
}

worker_status() {
	local pid
	if pid=$(pid_of broadway-worker "$WDIR/worker.pid"); then
		echo "worker        running  pid $pid  log $WDIR/worker.log"
	elif [ "$WORKER" = 1 ]; then
		echo "worker        stopped"
		return 1
	else
		echo "worker        not started (BROADWAY_WORKER=0)"
	fi
}
