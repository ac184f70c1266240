#!/bin/bash
# What a newcomer runs on a fresh Debian 12, inside the root ROOTFS made
# by tests/fresh/run.sh, which starts this script as pid 1 of its own
# pid and mount namespaces (unshare): the mounts below are invisible to
# the host and end with the namespace, and `kill -KILL -1` from here
# reaches exactly the processes started in the root.
#   steps.sh ROOTFS
# Prints PASS/FAIL/TIME lines, then "STEPS DONE" if it got to the end.
# shellcheck disable=SC2016  # single-quoted commands expand in the root
set -uo pipefail

R=${1:?usage: steps.sh ROOTFS}
# kill -1 below would reach every process of the machine outside a
# namespace of our own.
if [ $$ -ne 1 ]; then
	echo "FAIL steps.sh must run as pid 1 of its own namespace (run tests/fresh/run.sh)"
	exit 1
fi
SRC=/root/broadway-c		# inside the root, where a newcomer clones
LOGS=$R/root/fresh-logs
PATH_IN=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
DAEMONS='mariadbd|mysqld|mysqld_safe|nginx|spawn-fcgi|multiwatch|broadway-fcgi|broadway-sse|broadway-worker|conmon'

now() { echo "${EPOCHREALTIME/,/.}"; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

mounted=()
mnt() {
	local dir=${*: -1}
	mount "$@" && mounted=("$dir" "${mounted[@]}")
}

# Everything started in the root goes first (it may hold files under
# the mounts), then the mounts in reverse order.  Lazy as a last resort:
# this namespace ends with us anyway.
teardown() {
	kill -KILL -1 2>/dev/null
	sleep 0.2
	local d
	for d in "${mounted[@]}"; do
		umount -R "$d" 2>/dev/null || umount -R -l "$d"
	done
	mounted=()
}
trap teardown EXIT
# As pid 1 of a namespace this shell gets only signals it handles.
trap 'echo "steps.sh: interrupted"; exit 130' INT TERM HUP

mkdir -p "$LOGS"
# The root a mount point of its own, as / is on a machine: podman's
# layer unpacking remounts / private and gets EINVAL on a plain dir.
mnt --bind "$R" "$R" || { echo "FAIL bind $R"; exit 1; }
mnt -t proc proc "$R/proc" || { echo "FAIL mount /proc"; exit 1; }
mnt --rbind /sys "$R/sys" || { echo "FAIL mount /sys"; exit 1; }
mnt --rbind /dev "$R/dev" || { echo "FAIL mount /dev"; exit 1; }
# A booted Debian has a fresh tmpfs on /run.
mnt -t tmpfs -o mode=755,nosuid,nodev tmpfs "$R/run" || { echo "FAIL mount /run"; exit 1; }
mkdir -p "$R/run/lock"

# Run a shell command as root in the root, from the tree, with a clean
# environment (as after a login: no host variables leak in).
in_root() {
	chroot "$R" /usr/bin/env -i PATH="$PATH_IN" HOME=/root LANG=C.UTF-8 \
	    TERM=dumb /bin/bash -c "cd $SRC && $1"
}

# step NAME SECONDS COMMAND: run COMMAND in the root with a time limit,
# log its output to LOGS/NAME.log, print its time; the tail of the log
# on failure.  Returns COMMAND's status.
step() {
	local name=$1 limit=$2 cmd=$3 t0 rc
	echo "== $name: $cmd"
	t0=$(now)
	# In the background: bash runs a trap only once the foreground
	# command ends, and timeout's own process group gets no ^C, so a
	# foreground step would hold off the INT/TERM trap until it ended.
	timeout -k 10 "$limit" chroot "$R" /usr/bin/env -i PATH="$PATH_IN" \
	    HOME=/root LANG=C.UTF-8 TERM=dumb /bin/bash -c "cd $SRC && $cmd" \
	    >"$LOGS/$name.log" 2>&1 &
	wait $!
	rc=$?
	echo "TIME $name $(since "$t0")s"
	if [ $rc -ne 0 ]; then
		echo "---- last lines of $name (exit status $rc) ----"
		tail -n 30 "$LOGS/$name.log"
		echo "----"
	fi
	return $rc
}

# Names of the daemons running in this namespace, one per line.
daemons() {
	local f c
	for f in "$R"/proc/[0-9]*/comm; do
		c=$(cat "$f" 2>/dev/null) || continue
		[[ $c =~ ^($DAEMONS)$ ]] && echo "$c(${f//[^0-9]/})"
	done
	return 0
}

ok() { echo "PASS $1"; }
bad() { echo "FAIL $1"; }

# 1. Nothing of the build is there before deps.sh.
pre=$(in_root 'for t in make cc gcc pkg-config python3 git; do command -v $t; done; dpkg-query -W -f="\${Package} \${db:Status-Status}\n" build-essential 2>/dev/null | grep " installed$"')
if [ -z "$pre" ]; then
	ok "minbase has no make, cc, pkg-config, python3, git, build-essential"
else
	bad "minbase is not pristine: $(echo "$pre" | tr '\n' ' ')"
fi

# 2. The install.
if step deps 1500 'scripts/deps.sh'; then
	ok "scripts/deps.sh installs everything from a bare minbase"
else
	bad "scripts/deps.sh from a bare minbase"
fi
n=$(in_root 'dpkg-query -W -f="\${db:Status-Status}\n" | grep -c "^installed$"')
echo "   $n packages installed after deps.sh"
left=$(daemons)
if [ -z "$left" ] && [ ! -e "$R/usr/sbin/policy-rc.d" ]; then
	ok "deps.sh started no daemon and removed its policy-rc.d"
else
	bad "after deps.sh: daemons: ${left//$'\n'/ }; policy-rc.d: $(ls "$R/usr/sbin/policy-rc.d" 2>&1)"
fi
if step deps-again 60 'scripts/deps.sh' && [ ! -s "$LOGS/deps-again.log" ]; then
	ok "deps.sh a second time: nothing to do, no apt"
else
	bad "deps.sh a second time: $(head -c 300 "$LOGS/deps-again.log")"
fi

# 3. The build and the C unit tests.
if step build 900 'make -j2 all'; then
	ok "make all ($(grep -c -- ' -c -o ' "$LOGS/build.log") files compiled)"
else
	bad "make all"
fi
missing=$(in_root 'for b in broadway-fcgi broadway-sse broadway-admin broadway-worker; do [ -x build/$b ] || echo $b; done')
if [ -z "$missing" ]; then
	ok "binaries built (broadway-fcgi, -sse, -admin, -worker)"
else
	bad "not built: $(echo "$missing" | tr '\n' ' ')"
fi
step unit 600 'make unit'
rc=$?
last=$(tail -n 1 "$LOGS/unit.log")
if [ $rc -eq 0 ] && [[ $last =~ ^([1-9][0-9]*)\ passed,\ 0\ failed$ ]]; then
	ok "make unit: $last"
else
	bad "make unit (exit status $rc): $last"
fi

# 4. The stack, as the README starts and stops it.
if step up 300 'make up'; then
	ok "make up"
	code=$(in_root 'set -a; . var/stack.env; set +a
	    curl -sS -o /dev/null -w "%{http_code}" --cacert "$BROADWAY_CA" \
	        -H "Authorization: Bearer $BROADWAY_DEMO_ADMIN_TOKEN" \
	        "$BROADWAY_URL/queue/demo/length"' 2>&1)
	if [ "$code" = 200 ]; then
		ok "the README's curl against the stack: 200"
	else
		bad "the README's curl against the stack: $code"
	fi
else
	bad "make up"
fi
if step down 120 'make down'; then
	left=$(daemons)
	if [ -z "$left" ]; then
		ok "make down stopped everything"
	else
		bad "make down left: ${left//$'\n'/ }"
	fi
else
	bad "make down"
fi

# 5. What the worker needs at run time: one container from the
# locally built busybox image, with the project's podman settings.
if step podman 300 'envs=$(tests/images/build-busybox.sh /root/store) &&
    eval "$envs" && export CONTAINERS_CONF CONTAINERS_STORAGE_CONF &&
    out=$(podman run --rm localhost/bb:1 /bin/echo hello-from-fresh) &&
    echo "$out" && [ "$out" = hello-from-fresh ]'; then
	ok "podman runs the local busybox image with worker/containers.conf"
else
	bad "podman run in the fresh root"
fi

# 6. A run graded on the fresh machine: the README's walkthrough, on a
# stack with its worker started as `make up` starts it.
if [ -f "$R$SRC/tests/readme/walkthrough.py" ]; then
	step walkthrough 600 'python3 tests/readme/walkthrough.py'
	rc=$?
	last=$(tail -n 1 "$LOGS/walkthrough.log")
	if [ $rc -eq 0 ] && [[ $last =~ ^([1-9][0-9]*)\ passed,\ 0\ failed$ ]]; then
		ok "the README walkthrough grades a run: $last"
	else
		bad "the README walkthrough (exit status $rc): $last"
	fi
fi

echo "STEPS DONE"
