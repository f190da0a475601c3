# edalab — make targets. `make help` lists them.
# The README's two set-up commands are `make up` and `make test`.

CARGO ?= cargo
DATA_DIR ?= ./data
LISTEN ?= 127.0.0.1:8080
# The store tests run against this real PostgreSQL; `make test` fails if it is unreachable.
export EDALAB_TEST_POSTGRES_URL ?= postgres://postgres@127.0.0.1:5432/postgres
# the NATS JetStream server `bench bus --peer nats` is tested against (scripts/ensure-tools.sh)
export EDALAB_TEST_NATS_URL ?= nats://127.0.0.1:4222
# The Kafka-protocol broker of the kafka tests, installed by scripts/ensure-tools.sh (seconds).
export EDALAB_TANSU ?= $(HOME)/.cache/edalab/bin/tansu
# Confluent's Python client and Avro serializer of the interop tests, installed by scripts/ensure-tools.sh.
export EDALAB_CONFLUENT_PYTHON ?= $(HOME)/.cache/edalab/bin/confluent-python
# The AWS API emulator of the aws tests (SQS, …), installed by scripts/ensure-tools.sh (seconds).
export EDALAB_MINISTACK ?= $(HOME)/.cache/edalab/bin/ministack

.DEFAULT_GOAL := help

.PHONY: aws-package
.PHONY: help up build web test test-rust test-web test-iac test-alerts test-docs e2e lint fmt check-tools bench-bus bench-e2e-quick bench-e2e clean fuzz-smoke schemathesis

help: ## List the targets
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}'

up: web ## Build (release, with the web UI) and start the platform on embedded defaults (data in ./data)
	$(CARGO) run --release -p edalab -- up --data-dir $(DATA_DIR) --listen $(LISTEN)

web: ## Build the web UI into web/dist (npm ci, then vite build)
	cd web && npm ci --no-audit --no-fund && npm run build

build: ## Build every crate (release), the aws profile included
	$(CARGO) build --release --workspace --features edalab/aws

# cargo-lambda from PyPI (it brings zig) in its own venv: ../shared/AWS_PEER.md.
CARGO_LAMBDA_VENV ?= $(HOME)/.cache/edalab/venv-cargo-lambda-1.9.2

aws-package: ## The Lambda functions' zip for `edalab aws deploy` (cargo-lambda, x86_64, provided.al2023): target/lambda/edalab-lambda/bootstrap.zip
	@test -x $(CARGO_LAMBDA_VENV)/bin/cargo-lambda || \
	  (python3 -m venv $(CARGO_LAMBDA_VENV) && $(CARGO_LAMBDA_VENV)/bin/pip install -q cargo-lambda==1.9.2)
	PATH=$(CARGO_LAMBDA_VENV)/bin:$$PATH $(CARGO) lambda build --release --x86-64 --output-format zip \
	  -p edalab --bin edalab-lambda --features aws

test: check-tools test-iac test-alerts test-docs test-rust fuzz-smoke bench-e2e-quick test-web e2e schemathesis ## Run every check and test: IaC gates, alert rules, Mermaid diagrams, Rust (fmt, clippy, tests, short fuzzing, quick e2e bench), web (types, Vitest), browser, schemathesis (every check)

test-rust: check-tools ## fmt --check, clippy -D warnings, every Rust test (PostgreSQL included)
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets --all-features -- -D warnings
	$(CARGO) test --workspace --all-features

# The IaC gates (deploy/terraform/policies/README.md): their tests on broken copies of
# scripts/iac/fixtures first, then the gates on the real deploy/ and .github/workflows trees.
test-alerts: check-tools ## Prometheus: the configuration and its alert rules checked, the rules' unit tests run (promtool)
	promtool check config deploy/prometheus/prometheus.yml
	promtool test rules deploy/prometheus/alerts.test.yml

# tools/mermaid-check/README.md: each ```mermaid block of docs/**/*.md parsed and rendered by the
# pinned mermaid in Debian's Chromium (playwright-core, no browser download); fails naming file:line.
test-docs: check-tools ## Every Mermaid diagram of docs/ renders (mermaid 11 in Debian Chromium)
	cd tools/mermaid-check && npm ci --no-audit --no-fund && node check.mjs ../../docs

test-iac: check-tools ## Terraform, Step Functions and CI workflow gates (fmt, syntax, checkov policies, asl-validator, workflow schema), their broken-input tests, and seed 001's CDKTF stack synthesized and checked
	scripts/iac/test-gates.sh
	scripts/iac/gates.sh
	deploy/cdktf/check.sh

# The fuzz targets (fuzz/README.md, docs/adr/021-fuzzing.md) on a stable toolchain: cargo-fuzz
# passes nightly-only flags, which RUSTC_BOOTSTRAP=1 allows; `-s none` because the sanitizers
# need a nightly standard library. New inputs go to target/fuzz-smoke, never to the committed
# corpus; a crash fails the target and leaves its input in fuzz/artifacts/<target>/.
FUZZ_TARGETS := log_frame avro_decode http_json scenario_toml
FUZZ_SMOKE_RUNS ?= 20000
FUZZ_SMOKE_SECONDS ?= 30

fuzz-smoke: check-tools ## Build the 4 fuzz targets and run each briefly from its corpus (fails on a crash)
	cd fuzz && RUSTC_BOOTSTRAP=1 $(CARGO) fuzz build -s none
	@for t in $(FUZZ_TARGETS); do \
	  mkdir -p target/fuzz-smoke/$$t; \
	  (cd fuzz && RUSTC_BOOTSTRAP=1 $(CARGO) fuzz run -s none $$t ../target/fuzz-smoke/$$t corpus/$$t -- \
	    -runs=$(FUZZ_SMOKE_RUNS) -max_total_time=$(FUZZ_SMOKE_SECONDS) -max_len=4096 -print_final_stats=1 \
	    > ../target/fuzz-smoke/$$t.log 2>&1); rc=$$?; \
	  echo "fuzz-smoke: $$t: $$(grep -E '^stat::(number_of_executed_units|average_exec_per_sec)' target/fuzz-smoke/$$t.log | tr '\n' ' ')"; \
	  if [ $$rc -ne 0 ]; then tail -n 40 target/fuzz-smoke/$$t.log; echo "fuzz-smoke: $$t failed (input in fuzz/artifacts/$$t/)"; exit 1; fi; \
	done

test-web: check-tools ## Web UI: npm ci, type check, Vitest component and API tests
	cd web && npm ci --no-audit --no-fund && npm run lint && npm test

schemathesis: ## Property-based API test of a real `edalab up` from its OpenAPI document, every schemathesis check
	$(CARGO) build -p edalab --bins
	scripts/schemathesis.sh

e2e: check-tools ## Real browser (Debian Chromium) against a real `edalab up`
	cd web && npm run build
	$(CARGO) build --workspace --all-features --bins
	scripts/e2e.sh

check-tools: ## Install what the tests need, if missing (idempotent)
	@scripts/ensure-tools.sh

lint: ## clippy with warnings as errors
	$(CARGO) clippy --workspace --all-targets --all-features -- -D warnings

fmt: ## Format the code
	$(CARGO) fmt --all

bench-bus: ## Benchmark the embedded bus (release)
	$(CARGO) run --release -p edalab -- bench bus

bench-e2e-quick: ## The seed's performance tests (S3-18) end to end, short (< 60 s); report in target/bench-e2e-quick
	$(CARGO) run -p edalab --all-features -- --data-dir target/bench-data bench e2e --quick --no-progress --out target/bench-e2e-quick

bench-e2e: ## The full end-to-end benchmark (release, ~10 min); report in target/bench-e2e
	$(CARGO) run --release -p edalab -- --data-dir target/bench-data bench e2e --out target/bench-e2e

clean: ## Remove build output (keeps ./data)
	$(CARGO) clean

# ---- Docker (deploy/compose.yaml: Kafka KRaft, Schema Registry, PostgreSQL, Prometheus, Grafana) ----
COMPOSE ?= docker compose -f deploy/compose.yaml
TOPIC ?= demo
PARTITIONS ?= 3
.PHONY: docker-up docker-down docker-ps docker-logs docker-topics docker-topic-create docker-groups

docker-up: ## Docker: build the image and start every container in the background (deploy/README.md)
	$(COMPOSE) up --build -d

docker-down: ## Docker: stop and remove the containers (volumes kept)
	$(COMPOSE) down

docker-ps: ## Docker: every container and its health
	$(COMPOSE) ps

docker-logs: ## Docker: follow the logs (SERVICE=ledger-1 for one)
	$(COMPOSE) logs -f $(SERVICE)

docker-topics: ## Docker: list Kafka's topics
	$(COMPOSE) exec kafka /opt/kafka/bin/kafka-topics.sh --bootstrap-server kafka:9092 --list

docker-topic-create: ## Docker: create a topic (TOPIC=demo PARTITIONS=3)
	$(COMPOSE) exec kafka /opt/kafka/bin/kafka-topics.sh --bootstrap-server kafka:9092 --create --if-not-exists --topic $(TOPIC) --partitions $(PARTITIONS)

docker-groups: ## Docker: consumer groups, their partitions and lag
	$(COMPOSE) exec kafka /opt/kafka/bin/kafka-consumer-groups.sh --bootstrap-server kafka:9092 --describe --all-groups
