# Vigil — the two commands a new user needs are `make run` and `make test`. Each installs
# and starts what it needs, and stops what it started.

.PHONY: run serve test bench endpoint endpoint-stop provision lint fmt clean help infra-check

help:
	@echo "make run            the whole pipeline locally with a simulated wristband fleet (ARGS='--wearers 50 ...')"
	@echo "make serve          the pipeline locally with no fleet, until Ctrl-C: APIs on :8787, tokens and curl lines (ARGS='--listen ...')"
	@echo "make test           install what the tests need, start the local endpoint, run every test, stop it"
	@echo "make bench          criterion benchmarks with ratio lines (release build)"
	@echo "make bench-cold     each function's cold start: init, first invocation, size, peak RSS; arm64 build time (ARGS='--runs 10'; not in CI)"
	@echo "make endpoint       start moto's server on 127.0.0.1:4566 (or use LocalStack if it answers)"
	@echo "make endpoint-stop  stop the endpoint if make started it"
	@echo "make provision      create the stream and tables on the endpoint"
	@echo "make lint / fmt     clippy and rustfmt"
	@echo "make infra-check    CDK app: tsc, unit tests, cdk synth with cdk-nag, cfn-lint, checkov (no AWS, no Rust build)"

run:
	bash scripts/run.sh $(ARGS)

serve:
	bash scripts/run.sh serve $(ARGS)

test:
	bash scripts/test.sh

infra-check:
	bash infra/scripts/check.sh

bench:
	cargo bench -p ingest-api --bench handler
	cargo bench -p alert-processor --bench rules
	cargo bench -p raw-archiver
	cargo bench -p vitals-writer

.PHONY: bench-cold
bench-cold:
	bash scripts/bench-cold.sh $(ARGS)

endpoint:
	bash localstack/endpoint.sh start

endpoint-stop:
	bash localstack/endpoint.sh stop

# The local warehouse: PostgreSQL 15 on 127.0.0.1:5433 (make test starts and stops it itself).
.PHONY: pg pg-stop
pg:
	bash scripts/pg.sh start

pg-stop:
	bash scripts/pg.sh stop

provision: endpoint
	eval "$$(bash localstack/endpoint.sh env)" && cargo run -q -p vigil-run --bin vigil -- provision

lint:
	cargo clippy --workspace --all-targets -- -D warnings

fmt:
	cargo fmt --all

clean:
	bash localstack/endpoint.sh stop || true
	cargo clean
