# The two commands of the README. Each does its own set-up, idempotently.
CARGO ?= cargo

.PHONY: setup setup-python setup-slurm test reproduce bench fmt lint device-bundle

# libtorch (PyPI torch==2.11.0 in a cache venv) and the .libtorch link.
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

# The stripped binary and gzipped MNIST under dist/, for scripts/device-check.sh on a GPU
# machine that has torch 2.11.0 but no Rust and no network (docs/PERFORMANCE.md, "CUDA").
device-bundle:
	./scripts/device-build.sh

fmt:
	$(CARGO) fmt --all

lint:
	$(CARGO) clippy --release --all-targets -- -D warnings
