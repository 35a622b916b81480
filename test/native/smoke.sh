#!/bin/bash
# Developer smoke test for tsor-init (native/PLAN.md): runs plans through test/native/run-plan.py
# (a fake sentry) on a busybox rootfs and prints one PASS/FAIL line per check. Needs root.
# Usage: test/native/smoke.sh [NAME-FILTER]     (exit status: number of failures)
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
filter=${1:-}
work=$(mktemp -d /tmp/tsor-smoke.XXXXXX)
chmod 755 "$work" # the user-namespace test's root (host uid 100000) must reach the rootfs
rootfs=$work/rootfs
run="python3 $here/run-plan.py"
failures=0
trap 'rm -rf "$work"' EXIT

make -s -C "$root/native" || exit 1
"$here/mkrootfs.sh" "$rootfs"

# MS_* flags the plans below use (mount(2)).
MS_RDONLY=1 MS_NOSUID=2 MS_NODEV=4 MS_NOEXEC=8 MS_BIND=4096 MS_REC=16384 MS_SLAVE=524288
MS_STRICTATIME=16777216
ALL_CAPS=$((16#$(awk '/^CapBnd/ { print $2 }' /proc/self/status)))

# The namespaces, mounts and devices of a typical runc config.
base() {
	local pivot=${1:-1}
	cat <<EOF
version 1
mode create
ns pid ''
ns net ''
ns ipc ''
ns uts ''
ns mount ''
rootfs $rootfs
rootfs_propagation $((MS_REC | MS_SLAVE))
mount proc /proc proc $((MS_NOSUID | MS_NOEXEC | MS_NODEV)) 0 '' dir
mount tmpfs /dev tmpfs $((MS_NOSUID | MS_STRICTATIME)) 0 mode=755,size=65536k dir
mount devpts /dev/pts devpts $((MS_NOSUID | MS_NOEXEC)) 0 newinstance,ptmxmode=0666,mode=0620,gid=5 dir
mount shm /dev/shm tmpfs $((MS_NOSUID | MS_NOEXEC | MS_NODEV)) 0 mode=1777,size=65536k dir
mount mqueue /dev/mqueue mqueue $((MS_NOSUID | MS_NOEXEC | MS_NODEV)) 0 '' dir
mount sysfs /sys sysfs $((MS_NOSUID | MS_NOEXEC | MS_NODEV | MS_RDONLY)) 0 '' dir
device /dev/null c 1 3 438 0 0
device /dev/random c 1 8 438 0 0
device /dev/full c 1 7 438 0 0
device /dev/tty c 5 0 438 0 0
device /dev/zero c 1 5 438 0 0
device /dev/urandom c 1 9 438 0 0
symlink /proc/self/fd /dev/fd
symlink /proc/self/fd/0 /dev/stdin
symlink /proc/self/fd/1 /dev/stdout
symlink /proc/self/fd/2 /dev/stderr
ptmx
pivot $pivot
env PATH=/bin
EOF
}

# sh -c SCRIPT as the last directives.
script() {
	printf 'arg sh\narg -c\narg %q\nend\n' "$1"
}

# check NAME EXPECTED-REGEX OUTPUT
check() {
	if [[ -n $filter && $1 != *$filter* ]]; then return; fi
	if grep -Eq -- "$2" <<<"$3"; then
		echo "PASS $1"
	else
		echo "FAIL $1: expected /$2/ in:"
		sed 's/^/    /' <<<"$3"
		failures=$((failures + 1))
	fi
}

# Run a plan (stdin) and capture stdout+stderr (transcript included).
runplan() { $run - "$@" 2>&1; echo "rc=$?"; }

# --- create mode: namespaces, mounts, devices -----------------------------------------------
host_ns=$(for n in pid mnt uts ipc net; do readlink /proc/self/ns/$n; done)
out=$({ base; script 'for n in pid mnt uts ipc net; do readlink /proc/self/ns/$n; done; echo pid=$$'; } | runplan)
new=$(grep -E '^(pid|mnt|uts|ipc|net):' <<<"$out")
check "namespaces: pid is 1" '^pid=1$' "$out"
check "namespaces: five printed" '^5$' "$(wc -l <<<"$new")"
check "namespaces: none shared with the host" '^0$' "$(comm -12 <(sort <<<"$host_ns") <(sort <<<"$new") | wc -l)"

out=$({ base; script 'cat /proc/self/mountinfo'; } | runplan)
for m in "/proc .* proc" "/dev .* tmpfs" "/dev/pts .* devpts" "/dev/shm .* tmpfs" "/dev/mqueue .* mqueue" "/sys ro,.* sysfs"; do
	check "mounts: $m" " $m" "$out"
done
check "pivot_root: / is the rootfs" "^[0-9]+ [0-9]+ [0-9:]+ $rootfs / " "$out"
check "pivot_root: host mounts gone" '^0$' "$(grep -c -- ' - cgroup ' <<<"$out")"

out=$({ base; script 'stat -c "%n %F %t:%T %a" /dev/null /dev/zero /dev/full /dev/random /dev/urandom /dev/tty; head -c 5 /dev/urandom | wc -c; echo x >/dev/full || echo full-failed; for l in fd stdin ptmx; do readlink /dev/$l; done'; } | runplan)
check "devices: null" '^/dev/null character special file 1:3 666$' "$out"
check "devices: zero" '^/dev/zero character special file 1:5 666$' "$out"
check "devices: full" '^/dev/full character special file 1:7 666$' "$out"
check "devices: random" '^/dev/random character special file 1:8 666$' "$out"
check "devices: urandom reads" '^5$' "$out"
check "devices: tty" '^/dev/tty character special file 5:0 666$' "$out"
check "devices: /dev/full is full" 'full-failed' "$out"
check "symlinks: /dev/fd /dev/stdin /dev/ptmx" '^/proc/self/fd /proc/self/fd/0 pts/ptmx$' "$(grep -E '^(/proc|pts)' <<<"$out" | paste -sd' ')"

# --- bind mounts, masked and read-only paths --------------------------------------------------
mkdir -p "$work/host-dir" && echo bound >"$work/host-dir/file" && echo single >"$work/host-file"
echo secret >"$rootfs/etc/secret"
out=$({ base; cat <<EOF
mount $work/host-dir /mnt/ro bind $((MS_BIND | MS_REC | MS_RDONLY)) 0 '' dir
mount $work/host-dir /mnt/rw bind $((MS_BIND | MS_REC)) 0 '' dir
mount $work/host-file /etc/single bind $((MS_BIND)) 0 '' file
mask /etc/secret
mask /proc/acpi
mask /does/not/exist
readonly /proc/sys
readonly /does/not/exist
EOF
script 'cat /mnt/ro/file /etc/single; touch /mnt/ro/new 2>&1; touch /mnt/rw/new && echo rw-ok; echo "secret=[$(cat /etc/secret)]"; ls -A /proc/acpi | wc -l; touch /proc/acpi/x 2>&1; echo 1 >/proc/sys/kernel/shm_rmid_forced 2>&1'; } | runplan)
check "bind: content visible" '^bound$' "$out"
check "bind: file mount" '^single$' "$out"
check "bind: ro" "/mnt/ro/new.*Read-only file system" "$out"
check "bind: rw" '^rw-ok$' "$out"
check "mask: file is /dev/null" '^secret=\[\]$' "$out"
check "mask: dir is empty ro tmpfs" '/proc/acpi/x.*Read-only file system' "$out"
check "readonly: /proc/sys" 'shm_rmid_forced.*Read-only file system' "$out"
check "missing mask/readonly paths are skipped" '^0$' "$(grep -c '^sync< error' <<<"$out")"
rm -f "$work/host-dir/new"

# A symlink in the rootfs that points out of it must not make us create anything outside.
ln -s "$work/outside" "$rootfs/escape"
out=$({ base; echo "mount tmpfs /escape/sub tmpfs 0 0 '' dir"; script 'ls -d /escape/sub'; } | runplan)
check "mount target symlink stays in rootfs" '^/escape/sub$' "$out"
check "mount target symlink: nothing created on the host" '^absent$' "$( [ -e "$work/outside" ] && echo present || echo absent)"
rm -f "$rootfs/escape"; rm -rf "$rootfs/$work"

# --- chroot (--no-pivot) -------------------------------------------------------------------
out=$({ base 0; script 'ls / >/dev/null && head -1 /proc/self/mountinfo'; } | runplan)
check "chroot: rootfs is /" "^[0-9]+ [0-9]+ [0-9:]+ $rootfs / " "$out"
check "chroot: runs" '^rc=0$' "$out"

# --- process: hostname, rlimits, user, cwd, env, argv -----------------------------------------
out=$({ base; cat <<EOF
hostname tsor-smoke
domainname smoke.example
rlimit 7 64 128
oom_score_adj 123
user 1000 1000 63
groups 2000,3000
cwd /home/user/made/here
env 'GREETING=hello world'
EOF
script 'hostname; cat /proc/sys/kernel/domainname; ulimit -n; ulimit -Hn; cat /proc/self/oom_score_adj; id; pwd; umask; echo "$GREETING"'; } | runplan)
check "hostname" '^tsor-smoke$' "$out"
check "domainname" '^smoke.example$' "$out"
check "rlimit NOFILE soft" '^64$' "$out"
check "rlimit NOFILE hard" '^128$' "$out"
check "oom_score_adj" '^123$' "$out"
check "user and groups" '^uid=1000\(user\) gid=1000\(user\) groups=2000\(extra\),3000$' "$out"
check "cwd created and entered" '^/home/user/made/here$' "$out"
check "umask" '^0077$' "$out"
check "env with spaces" '^hello world$' "$out"

out=$({ base; printf 'arg no-such-binary\nend\n'; } | runplan)
check "argv: missing binary fails before ready" '^sync< error exec: "no-such-binary": executable file not found in \$PATH' "$out"
check "argv: no ready sent" '^0$' "$(grep -c '^sync< ready' <<<"$out")"
out=$({ base; printf 'arg /bin/nope\nend\n'; } | runplan)
check "argv: missing absolute path" 'error exec: "/bin/nope": stat /bin/nope: No such file' "$out"

# --- capabilities, no_new_privs, seccomp ------------------------------------------------------
# CAP_NET_BIND_SERVICE (10) and CAP_KILL (5) only, as user 1000 with ambient caps.
caps=$(((1 << 10) | (1 << 5)))
out=$({ base; echo "user 1000 1000 -1"; echo "caps $caps $caps $caps $caps $caps"; echo no_new_privs; script 'grep -E "^(Cap|NoNewPrivs)" /proc/self/status'; } | runplan)
hex=$(printf '%016x' $caps)
check "caps: bounding" "^CapBnd:	$hex$" "$out"
check "caps: effective (ambient, user 1000)" "^CapEff:	$hex$" "$out"
check "caps: ambient" "^CapAmb:	$hex$" "$out"
check "no_new_privs" '^NoNewPrivs:	1$' "$out"
out=$({ base; echo "caps $ALL_CAPS $ALL_CAPS $ALL_CAPS 0 0"; script 'grep -E "^NoNewPrivs" /proc/self/status'; } | runplan)
check "no no_new_privs by default" '^NoNewPrivs:	0$' "$out"

for nnp in "" no_new_privs; do
	out=$({ base; cat <<EOF
$nnp
user 1000 1000 -1
caps 0 0 0 0 0
seccomp_default SCMP_ACT_ALLOW ''
seccomp_arch SCMP_ARCH_X86_64
seccomp_rule SCMP_ACT_ERRNO '' mkdir 0
seccomp_rule SCMP_ACT_ERRNO '' mkdirat 0
seccomp_rule SCMP_ACT_ERRNO 38 no_such_syscall_name 0
seccomp_rule SCMP_ACT_ERRNO 22 personality 1 0 12345 0 SCMP_CMP_EQ
EOF
	script 'mkdir /tmp/d 2>&1; grep -E "^Seccomp:" /proc/self/status; echo done'; } | runplan)
	check "seccomp ${nnp:-without nnp}: mkdir is EPERM" "mkdir.*Operation not permitted" "$out"
	check "seccomp ${nnp:-without nnp}: filter on, unknown syscall skipped" '^Seccomp:	2$' "$out"
done

# --- terminal, preserved fds --------------------------------------------------------------------
out=$({ base; echo terminal; echo "console_socket $work/console.sock"; script 'tty; [ -t 0 ] && echo stdin-is-tty; ps -o pid,tty,comm'; } | runplan --console "$work/console.sock")
check "terminal: master sent with tsor-console" "got fd with message 'tsor-console'" "$out"
check "terminal: tty is the pty" '^console: /dev/pts/0' "$out"
check "terminal: stdin is a tty" '^console: stdin-is-tty' "$out"

echo preserved-content >"$work/pfile"
out=$({ base; echo "preserve_fds 2"; script 'cat <&3; cat <&4; echo "LISTEN_FDS=$LISTEN_FDS LISTEN_PID=$LISTEN_PID"; echo $(ls /proc/self/fd)'; } | runplan --preserve "$work/pfile" --preserve "$work/pfile")
check "preserve_fds: fd 3 and 4" $'^preserved-content$' "$out"
check "preserve_fds: LISTEN_FDS" '^LISTEN_FDS=2 LISTEN_PID=1$' "$out"
check "preserve_fds: no other fds leak (5 is ls's own)" '^0 1 2 3 4 5$' "$out"

# --- start barrier, hooks, sysctl, read-only root ---------------------------------------------
out=$({ base; script 'echo APP-RAN'; } | runplan --no-start)
check "start barrier: app does not run before start" '^0$' "$(grep -c APP-RAN <<<"$out")"

cat >"$work/hook.sh" <<EOF
#!/bin/sh
cat >"$work/hook-state-\$1"
echo >>"$work/hook-state-\$1"
echo "env=\$HOOKVAR" >>"$work/hook-state-\$1"
EOF
chmod +x "$work/hook.sh"
out=$({ base; cat <<EOF
hook createContainer $work/hook.sh 5 hook.sh create
hook_env HOOKVAR=yes
hook startContainer /bin/sh 0 sh -c 'cat >/tmp/start-state; echo started-hook-ran'
hook poststop /nonexistent 0
EOF
script 'cat /tmp/start-state'; } | runplan)
check "hook createContainer: state on stdin" '"status": "creating"' "$(cat "$work/hook-state-create" 2>&1)"
check "hook createContainer: env" '^env=yes$' "$(cat "$work/hook-state-create" 2>&1)"
check "hook startContainer: runs in container with state" '"status": "created"' "$out"
out=$({ base; echo "hook createContainer /bin/false 0"; script 'true'; } | runplan)
check "hook failure fails create" '^sync< error hook createContainer /bin/false: exit status 1' "$out"
out=$({ base; echo "hook createContainer /bin/sleep 1 sleep 10"; script 'true'; } | runplan)
check "hook timeout" '^sync< error hook createContainer /bin/sleep: timeout after 1 seconds' "$out"

out=$({ base; echo "mount tmpfs /tmp tmpfs 0 0 '' dir"; echo "sysctl net.ipv4.ip_forward 1"; echo readonly_root; script 'cat /proc/sys/net/ipv4/ip_forward; touch /x 2>&1; touch /tmp/y && echo tmp-ok'; } | runplan)
check "sysctl in the new netns" '^1$' "$out"
check "readonly_root" "touch: /x: Read-only file system" "$out"
check "readonly_root: other mounts stay rw" '^tmp-ok$' "$out"

# --- plan errors --------------------------------------------------------------------------------
out=$(printf 'version 1\nmode create\nfrobnicate x\nend\n' | runplan --raw)
check "plan: unknown directive" '^sync< error plan: unknown directive frobnicate$' "$out"
out=$(printf 'version 1\nmode create\narg a%%zz\nend\n' | runplan --raw)
check "plan: bad escape" '^sync< error plan: line 3: arg: bad field 1$' "$out"

# --- user namespace -------------------------------------------------------------------------------
out=$({ base | sed "s/^ns pid ''/ns user ''\nuidmap 0 100000 65536\ngidmap 0 100000 65536\n&/"; script 'id; cat /proc/self/uid_map /proc/self/gid_map; stat -c "%n %t:%T" /dev/null; echo x >/dev/null && echo null-ok; ls /sys/class/net'; } | runplan)
check "userns: root inside" '^uid=0\(root\) gid=0\(root\)' "$out"
check "userns: uid_map" '^ +0 +100000 +65536$' "$out"
check "userns: /dev/null bind-mounted from the host" '^/dev/null 1:3$' "$out"
check "userns: /dev/null works" '^null-ok$' "$out"

# --- exec mode: join a running container ----------------------------------------------------------
{ base; echo "hostname exec-target"; script 'echo target-up; sleep 30'; } | $run - --pid-file "$work/pid" >"$work/target.out" 2>&1 &
target=$!
for _ in $(seq 50); do [ -s "$work/pid" ] && grep -q target-up "$work/target.out" && break; sleep 0.1; done
pid=$(cat "$work/pid")
exec_plan() {
	printf 'version 1\nmode exec\n'
	for n in pid:pid net:net ipc:ipc uts:uts mount:mnt; do echo "ns ${n%%:*} /proc/$pid/ns/${n#*:}"; done
	printf 'user 1000 1000 -1\ncwd /tmp\nenv PATH=/bin\n'
	script "$1"
}
out=$(exec_plan 'hostname; echo pid=$$; pwd; id -u; ps -o pid,comm | grep -c sleep; exit 7' | runplan)
check "exec: joins uts" '^exec-target$' "$out"
check "exec: joins pid namespace" '^pid=[0-9]+$' "$out"
check "exec: sees the container's processes" '^1$' "$out"
check "exec: cwd and user" $'^/tmp\n1000$' "$(grep -E '^(/tmp|1000)$' <<<"$out")"
check "exec: exit code reported" '^sync< exit code 7$' "$out"
check "exec: exit status" '^rc=7$' "$out"
out=$(exec_plan 'kill -TERM $$' | runplan)
check "exec: exit signal reported" '^sync< exit signal 15$' "$out"
out=$(exec_plan 'exec nope' | sed 's/^arg sh$/arg nope/;/^arg -c$/d;/^arg exec/d' | runplan)
check "exec: missing binary" '^sync< error exec: "nope": executable file not found' "$out"
out=$(exec_plan 'trap "echo got-TERM; exit 3" TERM; sleep 5 & wait' | runplan --signal-init 15)
check "exec: signals are forwarded" $'^got-TERM$' "$out"
check "exec: forwarded signal's exit" '^sync< exit code 3$' "$out"
out=$(exec_plan 'tty' | sed 's/^mode exec$/&\nterminal\nconsole_socket '"${work//\//\\/}"'\/exec.sock/' | runplan --console "$work/exec.sock")
check "exec: terminal from the container's devpts" '^console: /dev/pts/[0-9]+' "$out"
kill "$pid" 2>/dev/null
wait "$target" 2>/dev/null

# --- exec mode into a user-namespaced container -----------------------------------------------------
rm -f "$work/pid"
{ base | sed "s/^ns pid ''/ns user ''\nuidmap 0 100000 65536\ngidmap 0 100000 65536\n&/"; script 'echo target-up; sleep 30'; } | $run - --pid-file "$work/pid" >"$work/target.out" 2>&1 &
target=$!
for _ in $(seq 50); do [ -s "$work/pid" ] && grep -q target-up "$work/target.out" && break; sleep 0.1; done
pid=$(cat "$work/pid")
out=$(exec_plan 'id -u; cat /proc/self/uid_map' | sed "s|^mode exec$|&\nns user /proc/$pid/ns/user|" | runplan)
check "exec into userns: user 1000 inside" '^1000$' "$out"
check "exec into userns: the container's map" '^ +0 +100000 +65536$' "$out"
kill "$pid" 2>/dev/null
wait "$target" 2>/dev/null

echo "$failures failure(s)"
exit "$failures"
