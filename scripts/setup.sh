#!/usr/bin/env bash
# Idempotent set-up of libtorch for tch 0.24 (PyTorch 2.11).
#
# 2.11.0, not a newer release: the device machine that runs `--device cuda` has PyTorch
# 2.11.0+cu130 and no network, so the binary built here runs there against that torch's
# libraries (scripts/device-check.sh), and the libtorch it links must be the same release.
# The PyPI wheel torch==2.11.0 is that same +cu130 build.
#
# - If LIBTORCH is set, it is used as is.
# - Otherwise the PyPI wheel torch==$TORCH_VERSION is installed into a virtual environment in a cache
#   folder outside the repository ($CREDIT_CACHE, default ~/.cache/credit-assign), shared by
#   every clone and CI run. A marker file records a complete install, and a lock keeps two
#   clones from installing at once.
# - Either way, the repository gets a `.libtorch` link (ignored by git) that
#   .cargo/config.toml hands to torch-sys.
set -euo pipefail

TORCH_VERSION=2.11.0
repo=$(cd "$(dirname "$0")/.." && pwd)
cache="${CREDIT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/credit-assign}"

if [ -n "${LIBTORCH:-}" ]; then
    target="$LIBTORCH"
    if [ ! -d "$target/lib" ] || [ ! -d "$target/include" ]; then
        echo "setup: LIBTORCH=$target has no lib/ and include/; point it at a libtorch $TORCH_VERSION folder or unset it to use the PyPI wheel" >&2
        exit 1
    fi
else
    venv="$cache/torch-$TORCH_VERSION"
    mkdir -p "$cache"
    exec 9>"$cache/.setup.lock"
    flock 9
    # The marker holds the version installed; the folder's name already differs per version.
    if [ "$(cat "$venv/.credit-complete" 2>/dev/null)" != "$TORCH_VERSION" ]; then
        echo "setup: installing torch==$TORCH_VERSION into $venv (once per machine)"
        command -v python3 >/dev/null || { echo "setup: python3 is needed to install torch==$TORCH_VERSION (or set LIBTORCH)" >&2; exit 1; }
        rm -rf "$venv"
        python3 -m venv "$venv"
        "$venv/bin/pip" install --quiet "torch==$TORCH_VERSION"
        echo "$TORCH_VERSION" >"$venv/.credit-complete"
    fi
    target=$("$venv/bin/python" -c 'import importlib.util, os; print(os.path.dirname(importlib.util.find_spec("torch").origin))')
    flock -u 9
fi

if [ "$(readlink "$repo/.libtorch" 2>/dev/null)" != "$target" ]; then
    ln -sfn "$target" "$repo/.libtorch"
fi
echo "setup: libtorch at $target"
