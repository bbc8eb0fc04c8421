# The two commands of the README. Each does its own set-up, idempotently.
CARGO ?= cargo

.PHONY: setup test reproduce fmt lint

setup:
	./scripts/setup.sh

test: setup
	$(CARGO) test --release

reproduce: setup
	$(CARGO) run --release -- data fetch mnist
	$(CARGO) run --release -- reproduce all --quick

fmt:
	$(CARGO) fmt --all

lint:
	$(CARGO) clippy --release --all-targets -- -D warnings
