# TSoR build. `make demo` installs everything and runs the main job; `make test` runs the suite.
.PHONY: setup build build-ts build-native image image-tar test test-unit test-runc demo bench clean

NODE_GYP := npx --no-install node-gyp

setup:
	bash scripts/setup.sh

build: build-ts build-native

# tsc for the module tree (tests import it), then esbuild bundles of the two processes that
# start on every container create (the CLI and the sentry): fewer files to load, faster
# start-up. Code splitting keeps what only some verbs need (netd, install) in chunks loaded on
# demand; @kubernetes/client-node stays external (loaded only by `netd --kubernetes`).
ESBUILD_FLAGS := --bundle --platform=node --format=esm --target=node20 --log-level=warning \
	--external:@kubernetes/client-node \
	--banner:js="import { createRequire as __tsorRequire } from 'node:module'; const require = __tsorRequire(import.meta.url);"

build-ts:
	npx --no-install tsc -p tsconfig.json
	rm -rf dist/bundle
	npx --no-install esbuild dist/oci/main.js dist/sentry/main.js $(ESBUILD_FLAGS) --splitting --outdir=dist/bundle

build-native:
	$(MAKE) -C native
	cd native/addon && $(NODE_GYP) rebuild --silent

# The image deploy/netd-daemonset.yaml runs (tsor:<version> from package.json), built offline
# from this checkout and this host's node and busybox (image/build.ts), loaded into docker.
# `make image-tar` only writes dist/tsor-image.tar (for a machine with no docker).
image: build
	node dist/image/build.js

image-tar: build
	node dist/image/build.js --tar-only

# The whole suite (root: it makes namespaces, cgroups and containers): unit + integration
# against tsor, then the integration suite against Debian's runc.
test: setup
	bash scripts/test.sh

test-unit: build
	bash scripts/test.sh dist/test/unit

# Only the integration suite against Debian's runc (part of `make test` too).
test-runc: setup
	TSOR_RUNTIME=runc bash scripts/test.sh dist/test/integration

demo: setup
	bash scripts/demo.sh

bench: setup
	node dist/test/bench/startup.js && node dist/test/bench/sockets.js && node dist/test/bench/redis1.js && node dist/test/bench/pods.js && node dist/test/bench/proxy.js && node dist/test/bench/memory.js

# The same benchmarks with small sizes and few runs: a quick look, noisier.
.PHONY: bench-quick
bench-quick: setup
	BENCH_RUNS=3 node dist/test/bench/startup.js && BENCH_QUICK=1 node dist/test/bench/sockets.js && node dist/test/bench/redis1.js --quick && node dist/test/bench/pods.js --quick && node dist/test/bench/proxy.js --quick && node dist/test/bench/memory.js --quick

clean:
	rm -rf dist native/build native/addon/build
