#!/usr/bin/env bash
# Installs everything TSoR needs on a fresh Debian machine (as root) and builds it. Idempotent:
# packages already present are skipped, npm ci and the native build are cheap when up to date.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  build-essential pkg-config python3    # native addon (node-gyp) and tsor-init
  libseccomp-dev                        # tsor-init: the config's linux.seccomp profile
  busybox-static                        # test and demo rootfs
  runc                                  # the reference runtime the suite and benchmarks compare with
  docker.io                             # test/integration/docker.test.ts: a private dockerd driving tsor
  iproute2 procps                       # ip netns for tests, ps for `tsor ps`
  redis-server redis-tools wrk curl     # app tests (test/integration/apps-*.test.ts)
  nginx-light                           # app test: nginx as a reverse proxy (apps-nginx-proxy.test.ts)
  iperf3                                # app test: iperf3 client and server (apps-iperf3.test.ts)
  golang-go                             # app test: a static Go net/http program built by the test (apps-go-http.test.ts)
  openjdk-17-jdk-headless               # app test: a Java program run by the source launcher (apps-java-http.test.ts)
  haproxy                               # app test: HAProxy in front of an HTTP server (apps-haproxy.test.ts)
  containernetworking-plugins           # CNI bridge/host-local/loopback in /usr/lib/cni: test pods (test/lib/pods.ts)
)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # nginx, haproxy and iperf3 are only binaries for the tests (which start their own): their
  # packages' services (nginx would take port 80 on the host) are not started on install
  # (invoke-rc.d asks policy-rc.d: 101 = action forbidden), unless the machine has a policy of its own.
  own_policy=
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    own_policy=1
    printf '#!/bin/sh\ncase "$1" in nginx|haproxy|iperf3) exit 101 ;; esac\nexit 0\n' > /usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
  fi
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || { [ -z "$own_policy" ] || rm -f /usr/sbin/policy-rc.d; exit 1; }
  [ -z "$own_policy" ] || rm -f /usr/sbin/policy-rc.d
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
make build
