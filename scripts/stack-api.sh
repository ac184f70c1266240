# shellcheck shell=bash
# The FastCGI pool (spawn-fcgi + multiwatch + broadway-fcgi) and
# broadway-sse, sourced by scripts/stack.sh (uses its helpers and settings).

# ------------------------------------------------------------ FastCGI

# spawn-fcgi -n (no fork) so the program keeps our stderr (the forking
# mode sends it to /dev/null); the pid file is written here instead.
api_start() {
	local pid deadline n
	[ -x "$BUILD/broadway-fcgi" ] || die "$BUILD/broadway-fcgi not built (run make)"
	if pid=$(pid_of multiwatch "$RUN/api.pid"); then
		note "FastCGI pool already running (multiwatch pid $pid)"
		return 0
	fi
	export_db_env
	# -r: kill-api may be used several times in a row; each kill
	# counts as a failed start for multiwatch.
	daemon_start "$LOGS/api.log" spawn-fcgi -n -s "$RUN/api.sock" -M 0666 \
	    -b 4096 -- /usr/bin/multiwatch -f "$CHILDREN" -r 1000 -s TERM -- \
	    "$BUILD/broadway-fcgi"
	pid=$DAEMON_PID
	echo "$pid" >"$RUN/api.pid"
	deadline=$((SECONDS + WAIT_HTTP))
	while :; do
		alive "$pid" || { log_tail "$LOGS/api.log"; die "the FastCGI pool exited at startup"; }
		n=$(children "$pid" | wc -l)
		[ -S "$RUN/api.sock" ] && [ "$n" -ge "$CHILDREN" ] && break
		[ $SECONDS -ge $deadline ] &&
		    { log_tail "$LOGS/api.log"; die "the FastCGI pool did not start ($n of $CHILDREN children)"; }
		sleep 0.05
	done
	note "broadway-fcgi running ($CHILDREN children of multiwatch pid $pid)"
}

# broadway-fcgi processes of this stack (told apart by the database
# socket in their environment) that lost their multiwatch to a SIGKILL:
# they keep their database connections and wait on a socket that is
# gone.
api_orphans() {
	local pid ppid
	for pid in $(pgrep -x broadway-fcgi); do
		ppid=$(awk '{print $4}' "/proc/$pid/stat" 2>/dev/null) || continue
		[ "$(cat "/proc/$ppid/comm" 2>/dev/null)" = multiwatch ] && continue
		tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null |
		    grep -qxF "BROADWAY_DB_SOCKET=$DB_SOCK" && echo "$pid"
	done
	return 0
}

api_stop() {
	local pid kids
	if ! pid=$(pid_of multiwatch "$RUN/api.pid"); then
		rm -f "$RUN/api.pid" "$RUN/api.sock"
		kids=$(api_orphans)
		[ -n "$kids" ] || return 0
		note "stopping orphaned broadway-fcgi: $(echo "$kids" | tr '\n' ' ')"
		# shellcheck disable=SC2086
		kill -TERM $kids 2>/dev/null || true
		# shellcheck disable=SC2086
		wait_gone $kids
		return 0
	fi
	kids=$(children "$pid")
	# multiwatch passes TERM on to its children and exits after them.
	kill -TERM "$pid" 2>/dev/null || true
	# shellcheck disable=SC2086
	wait_gone "$pid" $kids
	# Anything that was born in between.
	kids=$(children "$pid")
	# shellcheck disable=SC2086
	[ -z "$kids" ] || { kill -KILL $kids 2>/dev/null || true; }
	rm -f "$RUN/api.pid" "$RUN/api.sock"
	note "FastCGI pool stopped"
}

api_kill() {
	local pid kids deadline n k
	pid=$(pid_of multiwatch "$RUN/api.pid") || die "the FastCGI pool is not running"
	kids=$(children "$pid")
	[ -n "$kids" ] || die "multiwatch (pid $pid) has no children"
	# shellcheck disable=SC2086
	kill -KILL $kids
	note "killed broadway-fcgi pids $(echo "$kids" | tr '\n' ' ')"
	# Wait until multiwatch has replaced every one of them.
	deadline=$((SECONDS + WAIT_HTTP))
	while :; do
		n=0
		for k in $(children "$pid"); do
			case " $(echo "$kids" | tr '\n' ' ') " in
			*" $k "*) ;;
			*) n=$((n + 1)) ;;
			esac
		done
		[ "$n" -ge "$CHILDREN" ] && break
		[ $SECONDS -ge $deadline ] &&
		    { log_tail "$LOGS/api.log"; die "multiwatch respawned only $n of $CHILDREN children"; }
		sleep 0.05
	done
	note "multiwatch respawned $n children"
}

sse_start() {
	local pid deadline
	if [ ! -x "$BUILD/broadway-sse" ]; then
		note "no $BUILD/broadway-sse: SSE not started"
		return 0
	fi
	if pid=$(pid_of broadway-sse "$RUN/sse.pid"); then
		note "broadway-sse already running (pid $pid)"
		return 0
	fi
	export_db_env
	daemon_start "$LOGS/sse.log" spawn-fcgi -n -s "$RUN/sse.sock" -M 0666 \
	    -b 4096 -- "$BUILD/broadway-sse"
	pid=$DAEMON_PID
	echo "$pid" >"$RUN/sse.pid"
	deadline=$((SECONDS + WAIT_HTTP))
	until [ -S "$RUN/sse.sock" ]; do
		alive "$pid" || { log_tail "$LOGS/sse.log"; die "broadway-sse exited at startup"; }
		[ $SECONDS -ge $deadline ] && { log_tail "$LOGS/sse.log"; die "broadway-sse did not start"; }
		sleep 0.05
	done
	sleep 0.1
	alive "$pid" || { log_tail "$LOGS/sse.log"; die "broadway-sse exited at startup"; }
	note "broadway-sse running (pid $pid)"
}

sse_stop() {
	local pid
	if ! pid=$(pid_of broadway-sse "$RUN/sse.pid"); then
		rm -f "$RUN/sse.pid" "$RUN/sse.sock"
		return 0
	fi
	kill -TERM "$pid" 2>/dev/null || true
	wait_gone "$pid"
	rm -f "$RUN/sse.pid" "$RUN/sse.sock"
	note "broadway-sse stopped"
}
