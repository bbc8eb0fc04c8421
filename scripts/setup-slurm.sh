#!/usr/bin/env bash
# Idempotent install of Slurm (Debian's slurm-wlm) and munge, for the cluster tests and for
# trying `credit submit` on one machine with scripts/slurm-local.sh.
#
# Installs only what is missing; `apt-get update` runs only when something is installed.
# Needs root (or sudo) and Debian/Ubuntu's apt. Set CREDIT_SKIP_SLURM_SETUP=1 to skip it
# (the Slurm tests then fail with a message that says what is missing).
set -euo pipefail

if [ -n "${CREDIT_SKIP_SLURM_SETUP:-}" ]; then
    echo "setup-slurm: skipped (CREDIT_SKIP_SLURM_SETUP is set)"
    exit 0
fi

# Debian package -> a file it provides that we need.
declare -A needs=(
    [slurm-wlm]=sbatch
    [slurmctld]=slurmctld
    [slurmd]=slurmd
    [slurm-client]=scontrol
    [munge]=munged
)

missing=()
for pkg in slurm-wlm slurmctld slurmd slurm-client munge; do
    installed=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
    if [ "$installed" != "install ok installed" ]; then
        missing+=("$pkg")
    elif ! command -v "${needs[$pkg]}" >/dev/null 2>&1 \
        && [ ! -x "/usr/sbin/${needs[$pkg]}" ]; then
        missing+=("$pkg")
    fi
done

if [ ${#missing[@]} -eq 0 ]; then
    echo "setup-slurm: slurm-wlm and munge are installed (slurm-wlm $(dpkg-query -W -f='${Version}' slurm-wlm))"
    exit 0
fi

command -v apt-get >/dev/null || {
    echo "setup-slurm: ${missing[*]} missing and there is no apt-get; install Slurm (slurm-wlm) and munge with your system's package manager" >&2
    exit 1
}
sudo=()
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || {
        echo "setup-slurm: installing ${missing[*]} needs root; run as root or install sudo" >&2
        exit 1
    }
    sudo=(sudo)
fi

echo "setup-slurm: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# A lock, so that two clones running `make test` at once do not both run apt-get.
exec 9>/tmp/credit-setup-slurm.lock
flock 9
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
flock -u 9
echo "setup-slurm: installed (slurm-wlm $(dpkg-query -W -f='${Version}' slurm-wlm))"
