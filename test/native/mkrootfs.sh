#!/bin/sh
# Build a minimal busybox-static rootfs for the tsor-init smoke tests: mkrootfs.sh DIR
set -eu
dir=${1:?usage: mkrootfs.sh DIR}
busybox=${BUSYBOX:-/bin/busybox}
mkdir -p "$dir/bin" "$dir/proc" "$dir/sys" "$dir/dev" "$dir/etc" "$dir/tmp" "$dir/root" "$dir/home/user"
cp "$busybox" "$dir/bin/busybox"
for applet in $("$busybox" --list); do
	[ -e "$dir/bin/$applet" ] || ln -s busybox "$dir/bin/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\n' >"$dir/etc/passwd"
printf 'root:x:0:\nuser:x:1000:\nextra:x:2000:user\n' >"$dir/etc/group"
chmod 1777 "$dir/tmp"
chown 1000:1000 "$dir/home/user"
