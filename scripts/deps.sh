#!/bin/bash
# Install the Debian packages Broadway-C needs, if any are missing
# (clang and libclang-rt-14-dev, which holds libFuzzer, for `make fuzz`).
# Fast when everything is present: no apt-get at all.
set -euo pipefail

PKGS=(build-essential pkg-config libfcgi-dev libjansson-dev libmariadb-dev
	libmariadb-dev-compat libcurl4-openssl-dev libssl-dev spawn-fcgi
	multiwatch nginx-light mariadb-server mariadb-client podman runc conmon
	slirp4netns uidmap busybox-static debootstrap wrk python3 openssl curl
	ca-certificates procps iproute2 jq
	clang libclang-rt-14-dev)

# Ask dpkg about each package by itself and decide on its answer alone:
# dpkg-query exits 1 when any listed package is unknown, so its exit
# status (or a pipeline's) must never decide whether we install.
missing=()
for p in "${PKGS[@]}"; do
	status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null) || status=
	[ "$status" = installed ] || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "deps.sh: missing packages: ${missing[*]} (run as root to install)" >&2
	exit 1
fi
echo "deps.sh: installing ${missing[*]}" >&2

# We never use the system MariaDB or nginx (ours run from private
# directories with --no-defaults), so keep the package scripts from
# starting them: policy-rc.d 101 forbids service starts.
prc=/usr/sbin/policy-rc.d
own_prc=0
if [ ! -e "$prc" ]; then
	printf '#!/bin/sh\nexit 101\n' >"$prc"
	chmod 755 "$prc"
	own_prc=1
fi
# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() { [ "$own_prc" = 1 ] && rm -f "$prc"; return 0; }
trap cleanup EXIT

export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"

# Without systemd some package scripts start daemons anyway; stop the
# system instances (never ours: those use pid files under their DIR).
for pidf in /run/mysqld/mysqld.pid /run/nginx.pid; do
	if [ -s "$pidf" ]; then
		pid=$(cat "$pidf")
		if kill -0 "$pid" 2>/dev/null; then
			echo "deps.sh: stopping system daemon pid $pid ($pidf)" >&2
			kill "$pid" 2>/dev/null || true
			for _ in $(seq 100); do
				kill -0 "$pid" 2>/dev/null || break
				[ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" = Z ] && break
				sleep 0.1
			done
		fi
	fi
done
exit 0
