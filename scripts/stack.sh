#!/bin/bash
# The local Broadway-C stack: a private MariaDB, the broadway-fcgi pool
# (spawn-fcgi + multiwatch), broadway-sse and nginx with TLS, all under
# one directory and on free ports.  Nothing here touches the system
# MariaDB or nginx (every program runs with --no-defaults or -p/-c).
#
#   stack.sh up DIR		start everything (reuses DIR's data), write DIR/stack.env
#   stack.sh down DIR		stop exactly what up started
#   stack.sh restart-db DIR	stop and start mariadbd (same socket and data)
#   stack.sh kill-api DIR	SIGKILL every broadway-fcgi (multiwatch respawns them)
#   stack.sh stop-api DIR	stop the FastCGI pool and broadway-sse
#   stack.sh start-api DIR	start them again
#   stack.sh restart-sse DIR	restart broadway-sse
#   stack.sh status DIR	show what runs (exit 1 if anything is down)
#   stack.sh start-worker DIR	start the local worker (builds its image once)
#   stack.sh stop-worker DIR	stop it (drain, then force)
#   stack.sh restart PART DIR	restart one of nginx|fcgi|sse|db|worker, the
#				others untouched; nginx comes back on the
#				stack's port (or the restart fails)
#
# Environment for up/start-api/restart-sse (defaults in brackets; for
# start-api and restart-sse what the last up recorded in DIR/stack.env
# comes before the default):
#   BUILD [build]  BROADWAY_HEARTBEAT [10]  BROADWAY_MAX_ATTEMPTS [3]
#   BROADWAY_FCGI_CHILDREN [4]
#   BROADWAY_WORKER [0]: 1 = up also starts one local broadway-worker
#     (what `make up` does; the test suites run their own workers)
#   BROADWAY_WORKER_SLOTS [the machine's cores, at most 64]
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PROG=stack.sh
WAIT_DB=60		# seconds
WAIT_STOP=30
WAIT_HTTP=20

die() {
	echo "$PROG: $*" >&2
	exit 1
}

note() {
	echo "$PROG: $*" >&2
}

usage() {
	cat >&2 <<-EOF
		usage: stack.sh up|down|restart-db|kill-api|stop-api|start-api|restart-sse|status|start-worker|stop-worker DIR
		       stack.sh restart nginx|fcgi|sse|db|worker DIR
		  up DIR           start everything under DIR, write DIR/stack.env
		  down DIR         stop everything up started
		  restart-db DIR   restart mariadbd (same socket and data)
		  kill-api DIR     SIGKILL every broadway-fcgi; multiwatch respawns them
		  stop-api DIR     stop the FastCGI pool and broadway-sse
		  start-api DIR    start them again
		  restart-sse DIR  restart broadway-sse
		  status DIR       show what runs (exit 1 if anything is down)
		  start-worker DIR start the local worker (image built once, cached)
		  stop-worker DIR  stop the local worker
		  restart nginx|fcgi|sse|db|worker DIR
		                   restart one part (also after a kill -9), same port
		env: BUILD BROADWAY_HEARTBEAT BROADWAY_MAX_ATTEMPTS BROADWAY_FCGI_CHILDREN
		     BROADWAY_WORKER BROADWAY_WORKER_SLOTS
	EOF
	exit 1
}

# Print the last lines of a log to stderr (for failures).
log_tail() {
	local f=$1
	if [ -s "$f" ]; then
		echo "---- last lines of $f ----" >&2
		tail -n 25 "$f" >&2
		echo "----" >&2
	fi
}

# ------------------------------------------------------------ processes

# State letter of a process, empty if it does not exist.  PID 1 reaps
# orphans late here, so a zombie counts as gone.
proc_state() {
	local s
	s=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
	s=${s##*) }
	echo "${s%% *}"
}

alive() {
	local st
	st=$(proc_state "$1")
	[ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

# pid from FILE if that process is alive and its command name is NAME.
pid_of() {
	local name=$1 file=$2 pid comm
	[ -s "$file" ] || return 1
	pid=$(head -n 1 "$file" | tr -dc 0-9)
	[ -n "$pid" ] || return 1
	alive "$pid" || return 1
	comm=$(cat "/proc/$pid/comm" 2>/dev/null) || return 1
	[ "$comm" = "$name" ] || return 1
	echo "$pid"
}

# Live children of a process (zombies left out).
children() {
	local pid st
	for pid in $(ps -o pid= --ppid "$1" 2>/dev/null); do
		st=$(proc_state "$pid")
		[ -n "$st" ] && [ "$st" != Z ] && echo "$pid"
	done
	return 0
}

# Wait until every given pid is gone; SIGKILL what is left after
# WAIT_STOP seconds.  0 if all went away.
wait_gone() {
	local deadline=$((SECONDS + WAIT_STOP)) pid left
	while :; do
		left=
		for pid in "$@"; do
			alive "$pid" && left="$left $pid"
		done
		[ -z "$left" ] && return 0
		if [ $SECONDS -ge $deadline ]; then
			note "still running after ${WAIT_STOP}s, killing:$left"
			# shellcheck disable=SC2086
			kill -KILL $left 2>/dev/null || true
			sleep 0.5
			return 0
		fi
		sleep 0.05
	done
}

# Start a daemon in its own session with stdin from /dev/null and
# stdout/stderr appended to LOG, without inherited descriptors.  Sets
# DAEMON_PID.  setsid does not fork here (the subshell is no process
# group leader), so DAEMON_PID is the program's own pid.
daemon_start() {
	local log=$1
	shift
	(
		for fd in "/proc/$BASHPID/fd/"*; do
			fd=${fd##*/}
			[ "$fd" -gt 2 ] 2>/dev/null && eval "exec $fd>&-" 2>/dev/null
		done
		exec setsid "$@" </dev/null >>"$log" 2>&1
	) &
	DAEMON_PID=$!
}

# ------------------------------------------------------------ settings

# Value of KEY in DIR/stack.env from an earlier up, if any.
env_old() {
	[ -f "$ENVF" ] || return 0
	sed -n "s/^$1=//p" "$ENVF" | tail -n 1 | tr -d "'\""
}

setup_paths() {
	local d=$1
	case $d in
	'') usage ;;
	esac
	if [ ! -d "$d" ]; then
		case $VERB in
		up) mkdir -p "$d" ;;
		down) note "$d does not exist: nothing to stop"; exit 0 ;;
		*) die "$d does not exist (run up first)" ;;
		esac
	fi
	DIR=$(cd "$d" && pwd)
	case $DIR in
	*[!A-Za-z0-9_./+-]*)
		die "DIR $DIR: only [A-Za-z0-9_./+-] allowed in the path (it goes into nginx.conf)" ;;
	esac
	RUN=$DIR/run
	LOGS=$DIR/logs
	DATA=$DIR/data
	TLS=$DIR/tls
	PREFIX=$DIR/nginx
	ENVF=$DIR/stack.env
	SECRETS=$DIR/secrets
	WDIR=$DIR/worker
	STORE=$DIR/podman
	DB_SOCK=$RUN/mysqld.sock
	[ ${#DB_SOCK} -lt 100 ] || die "DIR $DIR is too long for a unix socket path"
	mkdir -p "$RUN" "$LOGS"
}

# Settings for the programs: the environment, else (except for up,
# which starts from the defaults) what the last up recorded, so that
# start-api and restart-sse start the programs as up did; else the
# default.
recorded() {
	[ "$VERB" = up ] || env_old "$1"
}

load_settings() {
	local b v
	b=${BUILD:-$(recorded BROADWAY_BUILD)}
	b=${b:-build}
	case $b in
	/*) ;;
	*) b=$ROOT/$b ;;
	esac
	BUILD=$b
	HEARTBEAT=${BROADWAY_HEARTBEAT:-$(recorded BROADWAY_HEARTBEAT)}
	HEARTBEAT=${HEARTBEAT:-10}
	MAX_ATTEMPTS=${BROADWAY_MAX_ATTEMPTS:-$(recorded BROADWAY_MAX_ATTEMPTS)}
	MAX_ATTEMPTS=${MAX_ATTEMPTS:-3}
	CHILDREN=${BROADWAY_FCGI_CHILDREN:-$(recorded BROADWAY_FCGI_CHILDREN)}
	CHILDREN=${CHILDREN:-4}
	WORKER=${BROADWAY_WORKER:-$(recorded BROADWAY_WORKER)}
	WORKER=${WORKER:-0}
	case $WORKER in
	0 | 1) ;;
	*) die "BROADWAY_WORKER must be 0 or 1 (got '$WORKER')" ;;
	esac
	SLOTS=${BROADWAY_WORKER_SLOTS:-$(recorded BROADWAY_WORKER_SLOTS)}
	SLOTS=${SLOTS:-$(nproc 2>/dev/null || echo 1)}
	[ "$SLOTS" -gt 64 ] 2>/dev/null && SLOTS=64
	for v in HEARTBEAT MAX_ATTEMPTS CHILDREN SLOTS; do
		case ${!v} in
		'' | *[!0-9]* | 0*) die "$v must be a positive integer (got '${!v}')" ;;
		esac
	done
	ADMIN=$BUILD/broadway-admin
	DB_USER=broadway
	DB_NAME=broadway
	DB_PASSWORD=
	[ -s "$SECRETS/db.password" ] && DB_PASSWORD=$(cat "$SECRETS/db.password")
	return 0
}

# The environment every Broadway program gets.
export_db_env() {
	unset BROADWAY_DB_HOST BROADWAY_DB_PORT
	export BROADWAY_DB_SOCKET=$DB_SOCK BROADWAY_DB_USER=$DB_USER \
	    BROADWAY_DB_PASSWORD=$DB_PASSWORD BROADWAY_DB_NAME=$DB_NAME \
	    BROADWAY_HEARTBEAT=$HEARTBEAT BROADWAY_MAX_ATTEMPTS=$MAX_ATTEMPTS
}

# ------------------------------------------------------------ MariaDB

db_ping() {
	mariadb-admin --no-defaults --socket="$DB_SOCK" -uroot \
	    --connect-timeout=2 ping >/dev/null 2>&1
}

# SQL from stdin as root.
db_root() {
	mariadb --no-defaults --socket="$DB_SOCK" -uroot
}

db_start() {
	local pid deadline
	if pid=$(pid_of mariadbd "$RUN/mysqld.pid"); then
		note "mariadbd already running (pid $pid)"
		return 0
	fi
	if [ ! -d "$DATA/mysql" ]; then
		note "creating the database in $DATA"
		rm -rf "$DATA"
		mariadb-install-db --no-defaults --user=root --datadir="$DATA" \
		    --auth-root-authentication-method=normal --skip-test-db \
		    --innodb-log-file-size=16M >"$LOGS/mysqld-install.log" 2>&1 ||
		    { log_tail "$LOGS/mysqld-install.log"; die "mariadb-install-db failed"; }
	fi
	rm -f "$DB_SOCK" "$DB_SOCK.lock"
	# utf8mb4 everywhere: --no-defaults would otherwise leave latin1.
	# max-allowed-packet above the API's 16 MiB bodies.
	daemon_start "$LOGS/mysqld.out" mariadbd --no-defaults --user=root \
	    --datadir="$DATA" --socket="$DB_SOCK" --skip-networking \
	    --pid-file="$RUN/mysqld.pid" --log-error="$LOGS/mysqld.log" \
	    --skip-name-resolve --innodb-log-file-size=16M \
	    --innodb-flush-log-at-trx-commit=1 --max-connections=500 \
	    --max-allowed-packet=64M --character-set-server=utf8mb4 \
	    --collation-server=utf8mb4_unicode_ci
	pid=$DAEMON_PID
	deadline=$((SECONDS + WAIT_DB))
	until db_ping; do
		if ! alive "$pid"; then
			log_tail "$LOGS/mysqld.log"
			log_tail "$LOGS/mysqld.out"
			die "mariadbd exited during startup"
		fi
		if [ $SECONDS -ge $deadline ]; then
			log_tail "$LOGS/mysqld.log"
			die "mariadbd did not answer within ${WAIT_DB}s"
		fi
		sleep 0.05
	done
	# mariadbd writes the pid file itself; make sure it is ours.
	echo "$pid" >"$RUN/mysqld.pid"
	note "mariadbd running (pid $pid, socket $DB_SOCK)"
}

db_stop() {
	local pid
	if ! pid=$(pid_of mariadbd "$RUN/mysqld.pid"); then
		rm -f "$RUN/mysqld.pid"
		return 0
	fi
	kill -TERM "$pid" 2>/dev/null || true
	WAIT_STOP=$WAIT_DB wait_gone "$pid"
	rm -f "$RUN/mysqld.pid"
	note "mariadbd stopped"
}

# Database, user and password: idempotent, run on every up.
db_setup() {
	mkdir -p "$SECRETS"
	chmod 700 "$SECRETS"
	if [ ! -s "$SECRETS/db.password" ]; then
		(umask 077 && openssl rand -hex 24 >"$SECRETS/db.password")
	fi
	chmod 600 "$SECRETS/db.password"
	DB_PASSWORD=$(cat "$SECRETS/db.password")
	db_root <<-EOF || die "database setup failed"
		CREATE DATABASE IF NOT EXISTS $DB_NAME
		    CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
		CREATE USER IF NOT EXISTS '$DB_USER'@'localhost' IDENTIFIED BY '$DB_PASSWORD';
		ALTER USER '$DB_USER'@'localhost' IDENTIFIED BY '$DB_PASSWORD';
		GRANT ALL PRIVILEGES ON $DB_NAME.* TO '$DB_USER'@'localhost';
	EOF
	export_db_env
	# As root, like docs/deploy.md: a migration may create roles and
	# users and grant privileges, which the API's account may not.
	BROADWAY_DB_USER=root BROADWAY_DB_PASSWORD= \
	    "$ADMIN" migrate "$ROOT/sql" >"$LOGS/migrate.log" 2>&1 ||
	    { log_tail "$LOGS/migrate.log"; die "migrations failed"; }
	sed 's/^/  /' "$LOGS/migrate.log" >&2
}

# The demo course and its tokens, once per DIR.
demo_setup() {
	local tf=$SECRETS/tokens.env
	if [ -s "$tf" ]; then
		# shellcheck disable=SC1090
		. "$tf"
		return 0
	fi
	CLUSTER_TOKEN=$(openssl rand -hex 32)
	DEMO_ADMIN_TOKEN=$(openssl rand -hex 32)
	DEMO_QUERY_TOKEN=$(openssl rand -hex 32)
	export_db_env
	if ! "$ADMIN" course-list | cut -f1 | grep -qx demo; then
		"$ADMIN" course-add demo >/dev/null || die "cannot create course demo"
	fi
	"$ADMIN" token-add admin demo --token "$DEMO_ADMIN_TOKEN" \
	    --label demo-admin >/dev/null || die "cannot add the demo admin token"
	"$ADMIN" token-add query demo --token "$DEMO_QUERY_TOKEN" \
	    --label demo-query >/dev/null || die "cannot add the demo query token"
	"$ADMIN" token-add cluster --token "$CLUSTER_TOKEN" \
	    --label cluster >/dev/null || die "cannot add the cluster token"
	(umask 077 && cat >"$tf" <<-EOF
		CLUSTER_TOKEN=$CLUSTER_TOKEN
		DEMO_ADMIN_TOKEN=$DEMO_ADMIN_TOKEN
		DEMO_QUERY_TOKEN=$DEMO_QUERY_TOKEN
	EOF
	)
	note "created course demo with admin, query and cluster tokens"
}

# ------------------------------------------------------------ verbs

write_env() {
	local names
	(umask 077 && cat >"$ENVF.new" <<-EOF
		# Written by scripts/stack.sh up $DIR; secrets inside (mode 0600).
		BROADWAY_URL=https://127.0.0.1:$PORT/api/v1
		BROADWAY_CA=$TLS/server.crt
		BROADWAY_HTTPS_PORT=$PORT
		BROADWAY_CLUSTER_TOKEN=$CLUSTER_TOKEN
		BROADWAY_DEMO_ADMIN_TOKEN=$DEMO_ADMIN_TOKEN
		BROADWAY_DEMO_QUERY_TOKEN=$DEMO_QUERY_TOKEN
		BROADWAY_DB_SOCKET=$DB_SOCK
		BROADWAY_DB_USER=$DB_USER
		BROADWAY_DB_PASSWORD=$DB_PASSWORD
		BROADWAY_DB_NAME=$DB_NAME
		BROADWAY_ADMIN=$ADMIN
		BROADWAY_STACK_DIR=$DIR
		BROADWAY_ROOT=$ROOT
		BROADWAY_BUILD=$BUILD
		BROADWAY_HEARTBEAT=$HEARTBEAT
		BROADWAY_MAX_ATTEMPTS=$MAX_ATTEMPTS
		BROADWAY_FCGI_CHILDREN=$CHILDREN
		BROADWAY_WORKER=$WORKER
		BROADWAY_WORKER_SLOTS=$SLOTS
		BROADWAY_WORKER_IMAGE=$WORKER_IMAGE
		BROADWAY_WORKER_LOG=$WDIR/worker.log
	EOF
	)
	# One export line (not KEY=VALUE, which the readers of this file
	# parse) so that `. stack.env` hands the variables to the programs
	# started afterwards (broadway-admin reads BROADWAY_DB_*).
	names=$(sed -n 's/^\(BROADWAY_[A-Z_]*\)=.*/\1/p' "$ENVF.new" | tr '\n' ' ')
	printf 'export %s\n' "${names% }" >>"$ENVF.new"
	mv "$ENVF.new" "$ENVF"
}

cmd_up() {
	local t0=$SECONDS
	[ -x "$ADMIN" ] || die "$ADMIN not built (run make)"
	[ -f "$ROOT/nginx/broadway.conf.in" ] || die "missing $ROOT/nginx/broadway.conf.in"
	db_start
	db_setup
	demo_setup
	tls_setup
	api_start
	sse_start
	nginx_start 0
	write_env
	[ "$WORKER" = 1 ] && worker_start
	note "up in $((SECONDS - t0))s"
	cat <<-EOF
		URL:          https://127.0.0.1:$PORT/api/v1
		CA file:      $TLS/server.crt
		admin token:  $DEMO_ADMIN_TOKEN   (course demo)
		query token:  $DEMO_QUERY_TOKEN   (course demo)
		cluster token: $CLUSTER_TOKEN
		stack.env:    $ENVF   (. it: it exports the BROADWAY_* variables)
		try: curl --cacert $TLS/server.crt -H "Authorization: Bearer $DEMO_ADMIN_TOKEN" https://127.0.0.1:$PORT/api/v1/queue/demo/length
	EOF
	if [ "$WORKER" = 1 ]; then
		cat <<-EOF
			worker:       $WORKER_ID, $SLOTS slots, grades stages with image $WORKER_IMAGE
			worker log:   tail -f $WDIR/worker.log
			worker list:  curl --cacert $TLS/server.crt -H "Authorization: Bearer $DEMO_ADMIN_TOKEN" https://127.0.0.1:$PORT/api/v1/worker/demo/all
		EOF
	fi
}

cmd_down() {
	worker_stop
	nginx_stop
	sse_stop
	api_stop
	db_stop
}

cmd_status() {
	local rc=0 pid
	if pid=$(pid_of mariadbd "$RUN/mysqld.pid"); then
		echo "mariadbd      running  pid $pid  socket $DB_SOCK"
	else
		echo "mariadbd      stopped"; rc=1
	fi
	if pid=$(pid_of multiwatch "$RUN/api.pid"); then
		echo "broadway-fcgi running  multiwatch pid $pid, children: $(children "$pid" | tr '\n' ' ')"
	else
		echo "broadway-fcgi stopped"; rc=1
	fi
	if pid=$(pid_of broadway-sse "$RUN/sse.pid"); then
		echo "broadway-sse  running  pid $pid"
	elif [ -x "$BUILD/broadway-sse" ]; then
		echo "broadway-sse  stopped"; rc=1
	else
		echo "broadway-sse  not built"
	fi
	if pid=$(pid_of nginx "$PREFIX/nginx.pid"); then
		echo "nginx         running  pid $pid  https://127.0.0.1:$(env_old BROADWAY_HTTPS_PORT)/api/v1"
	else
		echo "nginx         stopped"; rc=1
	fi
	worker_status || rc=1
	return $rc
}

# One part stopped (gracefully if it still runs, its orphans too after a
# SIGKILL) and started as up did; nothing else is touched.  nginx keeps
# the recorded port: workers and clients know only that URL.
cmd_restart() {
	case $1 in
	nginx)	nginx_stop; nginx_start 1 ;;
	fcgi)	api_stop; api_start; api_ready ;;
	sse)	sse_stop; sse_start; api_ready ;;
	db)	db_stop; db_start ;;
	worker)	worker_stop; worker_start ;;
	esac
}

# After restarting a part, nginx must still reach the API.
api_ready() {
	PORT=$(env_old BROADWAY_HTTPS_PORT)
	[ -n "$PORT" ] || return 0
	pid_of nginx "$PREFIX/nginx.pid" >/dev/null || return 0
	http_wait "" || die "the API does not answer through nginx"
}

# restart PART DIR; every other verb: VERB DIR.
PART=
if [ "${1:-}" = restart ]; then
	[ $# -eq 3 ] || usage
	PART=$2
	case $PART in
	nginx | fcgi | sse | db | worker) ;;
	*) usage ;;
	esac
	shift
fi
[ $# -eq 2 ] || usage
VERB=$1
[ -n "$PART" ] && VERB=restart
case $VERB in
up | down | restart-db | kill-api | stop-api | start-api | restart-sse | status | \
    start-worker | stop-worker | restart) ;;
*) usage ;;
esac
# shellcheck source=scripts/stack-api.sh
. "$ROOT/scripts/stack-api.sh"
# shellcheck source=scripts/stack-nginx.sh
. "$ROOT/scripts/stack-nginx.sh"
# shellcheck source=scripts/stack-worker.sh
. "$ROOT/scripts/stack-worker.sh"
setup_paths "$2"
load_settings

case $VERB in
up)		cmd_up ;;
down)		cmd_down ;;
restart-db)	db_stop; db_start ;;
kill-api)	api_kill ;;
stop-api)	sse_stop; api_stop ;;
start-api)	DB_PASSWORD=$(cat "$SECRETS/db.password" 2>/dev/null) ||
		    die "no $SECRETS/db.password (run up first)"
		api_start; sse_start; api_ready ;;
restart-sse)	sse_stop; sse_start ;;
status)		cmd_status ;;
start-worker)	worker_start ;;
stop-worker)	worker_stop ;;
restart)	cmd_restart "$PART" ;;
*)		usage ;;
esac
