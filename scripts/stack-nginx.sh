# shellcheck shell=bash
# TLS and nginx of the stack, sourced by scripts/stack.sh (uses its helpers
# and settings: DIR, PREFIX, TLS, LOGS, RUN, PORT ...).

# ------------------------------------------------------------ ports

free_port() {
	python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# Can nginx listen on PORT?  Probed the way nginx binds, with
# SO_REUSEADDR: without it the TIME-WAIT sockets a killed nginx leaves
# behind make a free port look taken, and the stack moved to another
# port that no worker knew about.
port_free() {
	python3 -c 'import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
    s.listen(1)
except OSError:
    sys.exit(1)' "$1"
}

# Orphaned nginx workers listening on PORT: after a SIGKILL of the
# master its workers live on, holding the port and serving the old
# configuration.  Only workers whose master is gone: a live nginx on
# this port (another stack's, if it took the port after ours stopped)
# is left alone.
nginx_orphans() {
	local pid ppid
	for pid in $(ss -Hltnp "( sport = :$1 )" 2>/dev/null | grep -o 'pid=[0-9]*' |
	    tr -dc '0-9\n' | sort -u); do
		[ "$(cat "/proc/$pid/comm" 2>/dev/null)" = nginx ] || continue
		tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q '^nginx: worker process' ||
		    continue
		ppid=$(awk '{print $4}' "/proc/$pid/stat" 2>/dev/null) || continue
		[ "$(cat "/proc/$ppid/comm" 2>/dev/null)" = nginx ] && continue
		echo "$pid"
	done
	return 0
}

# The port for a new nginx: the recorded one while it can be had.  For
# a restart (keep = 1) nothing else will do: workers know only that
# URL; wait for it a while, then fail.  For up, a port taken by someone
# else moves the stack (the local worker's config is rewritten).
nginx_port() {
	local keep=$1 old deadline
	old=$(env_old BROADWAY_HTTPS_PORT)
	if [ -z "$old" ]; then
		[ "$keep" = 1 ] && die "no port recorded in $ENVF (run up first)"
		PORT=$(free_port)
		return 0
	fi
	deadline=$((SECONDS + WAIT_HTTP))
	until port_free "$old"; do
		if [ "$keep" != 1 ]; then
			PORT=$(free_port)
			note "port $old is taken: the stack moves to port $PORT"
			return 0
		fi
		[ $SECONDS -ge $deadline ] &&
		    die "port $old is taken ($(ss -Hltnp "( sport = :$old )" 2>/dev/null | tr -s ' '))"
		sleep 0.1
	done
	PORT=$old
}

# ------------------------------------------------------------ TLS

tls_setup() {
	mkdir -p "$TLS"
	[ -s "$TLS/server.crt" ] && [ -s "$TLS/server.key" ] && return 0
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
	    -nodes -days 365 -subj /CN=localhost \
	    -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
	    -keyout "$TLS/server.key" -out "$TLS/server.crt" \
	    >"$LOGS/openssl.log" 2>&1 ||
	    { log_tail "$LOGS/openssl.log"; die "certificate generation failed"; }
	chmod 600 "$TLS/server.key"
}

# ------------------------------------------------------------ nginx

nginx_conf() {
	local hard rlimit conns user_line
	hard=$(ulimit -Hn)
	[ "$hard" = unlimited ] && hard=1048576
	rlimit=40000
	[ "$hard" -lt "$rlimit" ] && rlimit=$hard
	conns=16384
	[ $((rlimit - 64)) -lt "$conns" ] && conns=$((rlimit - 64))
	mkdir -p "$PREFIX/conf/extra" "$PREFIX/tmp"
	# nginx workers run as nobody when the master is root and must
	# reach the sockets: make DIR and DIR/run traversable (not
	# listable).  If a parent directory still blocks them (DIR under
	# a 0700 home), the workers run as root instead.
	user_line="# not root: the workers run as $(id -un)"
	if [ "$(id -u)" -eq 0 ]; then
		chmod 711 "$DIR" "$RUN"
		if setpriv --reuid=nobody --regid=nogroup --clear-groups \
		    test -x "$RUN" 2>/dev/null; then
			user_line="user nobody nogroup;"
		else
			note "nobody cannot reach $RUN: nginx workers run as root"
			user_line="user root root;"
		fi
	fi
	sed -e "s|@USER_LINE@|$user_line|" -e "s|@PREFIX@|$PREFIX|g" -e "s|@LOGS@|$LOGS|g" -e "s|@RUN@|$RUN|g" \
	    -e "s|@TLS@|$TLS|g" -e "s|@PORT@|$PORT|g" \
	    -e "s|@RLIMIT_NOFILE@|$rlimit|g" -e "s|@WORKER_CONNECTIONS@|$conns|g" \
	    "$ROOT/nginx/broadway.conf.in" >"$PREFIX/conf/nginx.conf.new"
	if grep -v '^[[:space:]]*#' "$PREFIX/conf/nginx.conf.new" |
	    grep '@[A-Z_]*@' >&2; then
		die "unsubstituted placeholders in nginx.conf"
	fi
	mv "$PREFIX/conf/nginx.conf.new" "$PREFIX/conf/nginx.conf"
}

# nginx_start [keep]: keep = 1 for a restart, which must not move.
nginx_start() {
	local pid
	if pid=$(pid_of nginx "$PREFIX/nginx.pid"); then
		PORT=$(env_old BROADWAY_HTTPS_PORT)
		[ -n "$PORT" ] || die "nginx runs (pid $pid) but $ENVF has no port; run down first"
		note "nginx already running (pid $pid, port $PORT)"
		return 0
	fi
	nginx_port "${1:-0}"
	nginx_conf
	nginx -t -q -p "$PREFIX" -c "$PREFIX/conf/nginx.conf" -e "$LOGS/error.log" \
	    >"$LOGS/nginx-test.log" 2>&1 ||
	    { cat "$LOGS/nginx-test.log" >&2; die "nginx configuration test failed"; }
	daemon_start "$LOGS/nginx.out" nginx -p "$PREFIX" \
	    -c "$PREFIX/conf/nginx.conf" -e "$LOGS/error.log" -g 'daemon off;'
	pid=$DAEMON_PID
	# nginx writes its pid file a moment after starting.
	echo "$pid" >"$PREFIX/nginx.pid"
	http_wait "$pid" || die "nginx did not serve https://127.0.0.1:$PORT"
	note "nginx running (pid $pid) on https://127.0.0.1:$PORT"
}

# Wait until nginx answers through TLS and the API answers through
# nginx (anything but a 502).
http_wait() {
	local pid=$1 deadline=$((SECONDS + WAIT_HTTP)) code
	while :; do
		if [ -n "$pid" ] && ! alive "$pid"; then
			log_tail "$LOGS/nginx.out"
			log_tail "$LOGS/error.log"
			return 1
		fi
		code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 \
		    --cacert "$TLS/server.crt" "https://127.0.0.1:$PORT/api/v1/" || true)
		case $code in
		000 | 502) ;;
		*) return 0 ;;
		esac
		if [ $SECONDS -ge $deadline ]; then
			note "last HTTP status: $code"
			log_tail "$LOGS/error.log"
			log_tail "$LOGS/api.log"
			return 1
		fi
		sleep 0.1
	done
}

nginx_stop() {
	local pid kids port
	port=$(env_old BROADWAY_HTTPS_PORT)
	if pid=$(pid_of nginx "$PREFIX/nginx.pid"); then
		kids=$(children "$pid")
		kill -QUIT "$pid" 2>/dev/null || true
		# shellcheck disable=SC2086
		wait_gone "$pid" $kids
		note "nginx stopped"
	fi
	rm -f "$PREFIX/nginx.pid"
	# Workers of a master that was killed: nobody else stops them.
	[ -n "$port" ] || return 0
	kids=$(nginx_orphans "$port")
	[ -n "$kids" ] || return 0
	note "stopping orphaned nginx processes on port $port: $(echo "$kids" | tr '\n' ' ')"
	# shellcheck disable=SC2086
	kill -TERM $kids 2>/dev/null || true
	# shellcheck disable=SC2086
	wait_gone $kids
}
