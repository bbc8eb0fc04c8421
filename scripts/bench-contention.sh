#!/bin/bash
# How the engines' default threads fare when another process holds a core: the torch engine
# on fig3's network (np, M = 8) and the fused engine on fig2's (np, M = 8), each alone and
# beside one busy process, with libtorch's threads as the engine picks them, with --threads 1
# and (torch) under OpenMP's wait policies. docs/PERFORMANCE.md, "Threads".
# Usage: scripts/bench-contention.sh [path/to/credit]   (default: target/release/credit)
set -u
credit=${1:-target/release/credit}
torch() { # label, environment variables, then -- and credit options
    local label=$1 vars=() ; shift
    while [ $# -gt 0 ] && [ "$1" != -- ]; do vars+=("$1"); shift; done
    [ $# -gt 0 ] && shift
    env "${vars[@]}" "$credit" "$@" --engine torch bench --device cpu --network fig3 --members 8 \
        --steps 60 | grep -E '\| fig3.*\| np \|' | sed "s/^/$label /"
}
fused() { # label, credit options...
    local label=$1; shift
    "$credit" "$@" --engine fused bench --device cpu --network fig2 --members 8 --steps 2000 \
        | grep -E '\| fig2.*\| np \|' | sed "s/^/$label /"
}
all() {
    torch "torch default"
    torch "torch --threads 1" -- --threads 1
    torch "torch GOMP_SPINCOUNT=10000" GOMP_SPINCOUNT=10000
    torch "torch OMP_WAIT_POLICY=passive" OMP_WAIT_POLICY=passive
    fused "fused default" ; fused "fused --threads 1" --threads 1
}
echo "== alone (load: $(cut -d' ' -f1 /proc/loadavg))"
all
sh -c 'while :; do :; done' &
busy=$!
trap 'kill $busy' EXIT
echo "== beside one busy process"
all
