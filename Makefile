# TSoR build. `make demo` installs everything and runs the main job; `make test` runs the suite.
.PHONY: setup build build-ts build-native image image-tar test test-unit test-runc demo bench clean

NODE_GYP := npx --no-install node-gyp

setup:
	bash scripts/setup.sh

build: build-ts build-native

# tsc for the module tree (tests import it), then esbuild bundles of the two processes that
# start on every container create (the CLI and the sentry): one CommonJS file each, which
# oci/launcher.ts (bundled as launcher.mjs, what bin/tsor and a sentry's spawn run) compiles
# with a V8 code cache kept beside it (written by the first run). Whitespace and syntax are
# minified (names kept, for stack traces): unminified, an idle sentry's PSS was 27.6 MiB with its
# cache (29.7 without), minified 26.4, with the former ES module bundles 26.0. import.meta.url becomes
# the bundle's own URL (scripts/import-meta-url.js); @kubernetes/client-node stays external
# (loaded only by `netd --kubernetes`).
ESBUILD_FLAGS := --bundle --platform=node --target=node20 --log-level=warning \
	--external:@kubernetes/client-node
CJS_FLAGS := --format=cjs --minify-whitespace --minify-syntax --keep-names --inject:scripts/import-meta-url.js --define:import.meta.url=import_meta_url \
	--banner:js='"use strict";'

build-ts:
	npx --no-install tsc -p tsconfig.json
	rm -rf dist/bundle
	npx --no-install esbuild dist/oci/main.js $(ESBUILD_FLAGS) $(CJS_FLAGS) --outfile=dist/bundle/tsor.cjs
	npx --no-install esbuild dist/sentry/entry.js $(ESBUILD_FLAGS) $(CJS_FLAGS) --outfile=dist/bundle/sentry.cjs
	npx --no-install esbuild dist/oci/launcher.js $(ESBUILD_FLAGS) --format=esm --outfile=dist/bundle/launcher.mjs

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
