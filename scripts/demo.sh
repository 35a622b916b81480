#!/usr/bin/env bash
# `make demo`'s driver (after setup): runs the demo program.
set -euo pipefail
cd "$(dirname "$0")/.."
exec node dist/test/demo/demo.js
