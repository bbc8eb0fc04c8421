#!/usr/bin/env bash
# Idempotent set-up of the Python environment that runs the notebooks (notebooks/*.ipynb).
#
# - A virtual environment in a cache folder outside the repository
#   ($CREDIT_CACHE, default ~/.cache/credit-assign, then /py), shared by every clone and CI run.
# - A marker file records a complete install and the package list it was made from; a
#   changed list reinstalls. A lock keeps two clones from installing at once.
# - Prints the environment's python as the last line of standard output; messages go to
#   standard error.
set -euo pipefail

PACKAGES=(
    "pandas>=2.2,<4"
    "matplotlib>=3.8,<4"
    "nbclient>=0.10,<1"
    "nbformat>=5.10,<6"
    "ipykernel>=6.29,<8"
)
cache="${CREDIT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/credit-assign}"
venv="$cache/py"
marker="$venv/.credit-complete"
wanted=$(printf '%s\n' "${PACKAGES[@]}")

mkdir -p "$cache"
exec 9>"$cache/.setup-python.lock"
flock 9
if [ ! -f "$marker" ] || [ "$(cat "$marker")" != "$wanted" ]; then
    echo "setup-python: installing ${PACKAGES[*]} into $venv (once per machine)" >&2
    command -v python3 >/dev/null || {
        echo "setup-python: python3 (3.9 or newer, with the venv module) is needed for the notebooks" >&2
        exit 1
    }
    rm -rf "$venv"
    python3 -m venv "$venv" || {
        echo "setup-python: 'python3 -m venv' failed; on Debian install python3-venv" >&2
        exit 1
    }
    "$venv/bin/pip" install --quiet --disable-pip-version-check "${PACKAGES[@]}" >&2
    printf '%s\n' "$wanted" >"$marker"
fi
flock -u 9
echo "setup-python: notebook environment ready at $venv" >&2
echo "$venv/bin/python"
