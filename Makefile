# The two commands of the README. Each does its own set-up, idempotently.
CARGO ?= cargo

.PHONY: setup setup-python setup-slurm test reproduce reproduce-full report bench fmt lint device-bundle

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

# The quick protocol (minutes to hours on a laptop): results/quick/, its REPORT.md.
reproduce: setup
	$(CARGO) run --release -- data fetch mnist
	$(CARGO) run --release -- reproduce all --quick --out results/quick

# The full-length protocol of every figure into results/ (days on 2 CPU cores; Fig. 3 and
# Table 1 are GPU-sized: use a cluster, docs/CLUSTER.md). Resumable: rerun to continue
# where it stopped. Then results/REPORT.md. Table 1 needs `credit data fetch cifar10 cifar100`.
reproduce-full: setup
	$(CARGO) run --release -- data fetch mnist
	$(CARGO) run --release -- reproduce all

# results/REPORT.md from the experiments that have finished there, training nothing.
report: setup
	$(CARGO) run --release -- report

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
