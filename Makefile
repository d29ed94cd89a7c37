# Two commands on a fresh Debian machine: `make demo` and `make test`. Both install what is missing.
SHELL := /bin/bash
DOTNET ?= dotnet
CONFIG ?= Release
# Tests run a Debug build: the decoder's unchecked reads assert their bounds there, under the fuzzer.
TEST_CONFIG ?= Debug
export DOTNET_CLI_TELEMETRY_OPTOUT := 1
export DOTNET_NOLOGO := 1
export DOTNET_SKIP_FIRST_TIME_EXPERIENCE := 1

# libpcap: the capture readers. tcpdump: a witness in tests, the floor in benchmarks.
# iproute2/procps (sysctl)/iptables/conntrack/ebtables/ipset/ping/nc: recording datasets and the kernel tests.
# fonts-dejavu-core: the font ScottPlot draws the text of `nat --png` plots with.
# chromium: the headless browser the `report --html` test loads the page in (the test skips without it).
APT_PACKAGES := libpcap0.8 tcpdump iproute2 procps iptables conntrack ebtables ipset iputils-ping netcat-openbsd fonts-dejavu-core chromium

# demo, bench and fleet-demo run the published CLI: ReadyToRun (precompiled), as users would install it.
PUBLISH_DIR := out/tracereplay
CLI := $(PUBLISH_DIR)/tracereplay
DEMO := datasets/docker-host

.PHONY: all deps build publish test demo bench bench-micro fleet-demo fuzz clean record-demo

all: build

deps:
	@missing=""; \
	for p in $(APT_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' "$$p" 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "make deps: installing$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	  else \
	    echo "make deps: missing Debian packages:$$missing"; \
	    echo "  run: sudo apt-get install -y$$missing"; \
	    exit 1; \
	  fi; \
	fi
	@command -v $(DOTNET) >/dev/null || { echo "make deps: the .NET 10 SDK is required (no 'dotnet' on PATH)"; exit 1; }

build: deps
	$(DOTNET) build TraceReplay.sln -c $(CONFIG) -m:2 -v q -clp:NoSummary

# The CLI with every assembly compiled ahead of time (PublishReadyToRun in its csproj; README "Speed").
publish: build
	$(DOTNET) publish src/TraceReplay.Cli -c $(CONFIG) -m:1 -v q -clp:NoSummary -o $(PUBLISH_DIR)

test: deps
	$(DOTNET) build TraceReplay.sln -c $(TEST_CONFIG) -m:2 -v q -clp:NoSummary
	@set -o pipefail; \
	$(DOTNET) test --project tests/TraceReplay.Tests/TraceReplay.Tests.csproj -c $(TEST_CONFIG) --no-build 2>&1 | tee /tmp/tracereplay-test.log; \
	status=$$?; \
	awk '/^  failed:/{f=$$2} /^  succeeded:/{s=$$2} /^  skipped:/{k=$$2} END{if (s!="") printf "tests: %d passed, %d failed, %d skipped\n", s, f, k}' /tmp/tracereplay-test.log; \
	exit $$status
	@# The notebooks (notebooks/*.ipynb), every cell run in-process against the bundled dataset: a separate
	@# project so the Roslyn/.NET Interactive packages stay out of the main suite's build.
	@set -o pipefail; \
	$(DOTNET) test --project tests/TraceReplay.NotebookTests/TraceReplay.NotebookTests.csproj -c $(TEST_CONFIG) --no-build 2>&1 | tee /tmp/tracereplay-notebook-test.log; \
	status=$$?; \
	awk '/^  failed:/{f=$$2} /^  succeeded:/{s=$$2} /^  skipped:/{k=$$2} END{if (s!="") printf "notebooks: %d passed, %d failed, %d skipped\n", s, f, k}' /tmp/tracereplay-notebook-test.log; \
	exit $$status
	@# The kernel differential suite: namespaces, real rules and traffic against the replay (skips unless root).
	@set -o pipefail; \
	$(DOTNET) test --project tests/TraceReplay.KernelTests/TraceReplay.KernelTests.csproj -c $(TEST_CONFIG) --no-build --output Detailed --ignore-exit-code 8 2>&1 | tee /tmp/tracereplay-kernel-test.log; \
	status=$$?; \
	awk '/^  failed:/{f=$$2} /^  succeeded:/{s=$$2} /^  skipped:/{k=$$2} END{if (s!="") printf "kernel tests: %d passed, %d failed, %d skipped\n", s, f, k}' /tmp/tracereplay-kernel-test.log; \
	exit $$status

demo: publish
	$(CLI) capinfo --host $(DEMO)/snapshot $(DEMO)/captures/any.pcap
	$(CLI) rules check $(DEMO)/snapshot
	$(CLI) conntrack $(DEMO)/snapshot
	@# conntrack.txt is the table when the capture started: the replay starts from it.
	@mkdir -p out
	$(CLI) replay --host $(DEMO)/snapshot $(DEMO)/captures/any.pcap --out out/docker-host.duckdb
	@echo "run database: out/docker-host.duckdb"

# Re-records the demo dataset on this machine's kernel (root: network namespaces).
record-demo: deps
	$(DEMO)/record.sh

# `make bench`: the whole pipeline as users run it (`tracereplay replay --stats`) on a generated capture,
# against tcpdump, tshark and argus on the same file (scripts/bench.sh; PACKETS, SNAPLEN, FLOWS, RATE,
# BENCH_DIR, KEEP=1). The older benchmark runs (pipeline, replay's five modes, host parsing, every
# BenchmarkDotNet micro-benchmark) take well over half an hour on 2 cores: MICRO=1, or `make bench-micro`.
# RULES=1 adds the rule-set scale run (`rulescale`: docker-host's rules against docker-host + ~50,000
# kube-proxy rules, classifier on and walked); SCALE=1 the memory run (`scale`: CONNECTIONS concurrent
# connections, SCALE_PACKETS sightings, peak RSS), which at its defaults takes 10-20 minutes and ~9 GB of /tmp.
PACKETS ?= 4000000
MICRO ?= 0
RULES ?= 0
SCALE ?= 0
CONNECTIONS ?= 1000000
SCALE_PACKETS ?= 100000000
BENCH := $(DOTNET) run -c $(CONFIG) --no-build --project tests/TraceReplay.Benchmarks --

bench: publish
	PACKETS=$(PACKETS) CLI=$(CLI) CONFIG=$(CONFIG) scripts/bench.sh
	@if [ "$(RULES)" = 1 ]; then $(BENCH) rulescale --packets 1000000 --runs 3; fi
	@if [ "$(SCALE)" = 1 ]; then $(BENCH) scale --connections $(CONNECTIONS) --packets $(SCALE_PACKETS); fi
	@if [ "$(MICRO)" = 1 ]; then $(MAKE) --no-print-directory bench-micro; fi

bench-micro: build
	$(DOTNET) run -c $(CONFIG) --no-build --project tests/TraceReplay.Benchmarks -- pipeline
	$(DOTNET) run -c $(CONFIG) --no-build --project tests/TraceReplay.Benchmarks -- replay
	$(DOTNET) run -c $(CONFIG) --no-build --project tests/TraceReplay.Benchmarks -- host
	$(DOTNET) run -c $(CONFIG) --no-build --project tests/TraceReplay.Benchmarks -- micro --filter '*' --job short --iterationCount 15 --warmupCount 5

# `make fleet-demo`: several bundled hosts replayed in parallel, exported into one Parquet tree and
# queried together (examples/fleet/run.sh; README "Many hosts").
fleet-demo: publish
	CLI=$(CLI) examples/fleet/run.sh

fuzz: build
	$(DOTNET) run -c $(CONFIG) --no-build --project tests/TraceReplay.Benchmarks -- fuzz --cases 100000

clean:
	$(DOTNET) clean TraceReplay.sln -v q
	rm -rf BenchmarkDotNet.Artifacts out
