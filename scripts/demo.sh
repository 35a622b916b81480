#!/usr/bin/env bash
# `make demo`'s driver (after setup): the pod-to-pod demo (runc+bridge vs tsor between two CNI pods
# on this node, then start-up vs runc). Needs root: it makes network namespaces, a bridge and
# containers, and removes them all at the end (also on Ctrl-C).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" -ne 0 ]; then
  echo "make demo needs root (network namespaces, a bridge, containers)" >&2
  exit 1
fi
exec node dist/test/demo/demo.js
