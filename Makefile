# The two commands of the README. Each does its own set-up, idempotently.
CARGO ?= cargo

.PHONY: setup setup-python setup-slurm test reproduce bench fmt lint

# libtorch (PyPI torch==2.13.0 in a cache venv) and the .libtorch link.
setup:
	./scripts/setup.sh

# pandas, matplotlib and nbclient for the notebook tests (cache venv).
setup-python:
	./scripts/setup-python.sh

# Slurm (slurm-wlm) and munge for the cluster tests (apt, only when missing).
setup-slurm:
	./scripts/setup-slurm.sh

test: setup setup-python setup-slurm
	$(CARGO) test --release

reproduce: setup
	$(CARGO) run --release -- data fetch mnist
	$(CARGO) run --release -- reproduce all --quick

bench: setup
	$(CARGO) run --release -- bench

fmt:
	$(CARGO) fmt --all

lint:
	$(CARGO) clippy --release --all-targets -- -D warnings
