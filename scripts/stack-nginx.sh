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

port_free() {
	python3 -c 'import socket, sys
s = socket.socket()
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)' "$1"
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

nginx_start() {
	local pid old
	if pid=$(pid_of nginx "$PREFIX/nginx.pid"); then
		PORT=$(env_old BROADWAY_HTTPS_PORT)
		[ -n "$PORT" ] || die "nginx runs (pid $pid) but $ENVF has no port; run down first"
		note "nginx already running (pid $pid, port $PORT)"
		return 0
	fi
	old=$(env_old BROADWAY_HTTPS_PORT)
	if [ -n "$old" ] && port_free "$old"; then
		PORT=$old
	else
		PORT=$(free_port)
	fi
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
	local pid kids
	if ! pid=$(pid_of nginx "$PREFIX/nginx.pid"); then
		rm -f "$PREFIX/nginx.pid"
		return 0
	fi
	kids=$(children "$pid")
	kill -QUIT "$pid" 2>/dev/null || true
	# shellcheck disable=SC2086
	wait_gone "$pid" $kids
	rm -f "$PREFIX/nginx.pid"
	note "nginx stopped"
}
