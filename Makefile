# TSoR build. `make demo` installs everything and runs the main job; `make test` runs the suite.
.PHONY: setup build build-ts build-native test test-unit test-runc demo bench clean

NODE_GYP := npx --no-install node-gyp

setup:
	bash scripts/setup.sh

build: build-ts build-native

build-ts:
	npx --no-install tsc -p tsconfig.json

build-native:
	$(MAKE) -C native
	cd native/addon && $(NODE_GYP) rebuild --silent

# The whole suite (root: it makes namespaces, cgroups and containers).
test: setup
	bash scripts/test.sh

test-unit: build
	bash scripts/test.sh dist/test/unit

# The integration suite against Debian's runc: a test that fails there is wrong, not runc.
test-runc: setup
	TSOR_RUNTIME=runc bash scripts/test.sh dist/test/integration

demo: setup
	bash scripts/demo.sh

bench: setup
	node dist/test/bench/startup.js && node dist/test/bench/sockets.js

# The same benchmarks with small sizes and few runs: a quick look, noisier.
.PHONY: bench-quick
bench-quick: setup
	BENCH_RUNS=3 node dist/test/bench/startup.js && BENCH_QUICK=1 node dist/test/bench/sockets.js

clean:
	rm -rf dist native/build native/addon/build
