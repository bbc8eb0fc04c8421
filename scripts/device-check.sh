#!/usr/bin/env bash
# The CUDA check of issue 11 (part 3), prepared to run once on the GPU device machine:
# one H100 or H200, PyTorch 2.11.0+cu130 in its python3, no Rust, no network.
#
#   here:    make device-bundle            # builds, strips and stages dist/ (see device-build.sh)
#   device:  scripts/device-check.sh        # from the repo root, with dist/ carried
#
# Steps, each under its own timeout inside one overall budget ($DEVICE_CHECK_SECONDS, default
# 540 s), so that the script always finishes and reports what ran:
#   1. environment: nvidia-smi, torch's version, `ldd` of the binary (every library resolved?)
#   2. the data: MNIST md5-verified (`credit data check mnist`), else dist/'s CIFAR-10 slice
#      (the first 1000 test images and up to 3500 training ones) unpacked
#   3. `credit bench --device cuda`: fig2 and fig3 at M = 1, 8, 32, 128, 1024, and the CNN
#   4. a quick run on CUDA, and the same on the CPU (in the background from the start, on the
#      last cores) or from $CPU_REF (a carried folder of it); scripts/compare-metrics.py
#      compares the two. With MNIST `configs/fig2-official.yaml --quick`, else
#      `configs/peers-cifar10.yaml --quick` on the slice's images
#   5. with MNIST, the full fig2-official protocol on CUDA, timed; stopped at the budget's end,
#      its progress lines give the rate and an estimate of the whole. Without it, Table 1's
#      network (table1-cifar10-official-1seed) for 2 epochs of the slice per rule, timed, and
#      each rule's full run projected from its seconds per epoch
# Everything lands in $OUT (default ./device-out): summary.md (the results), log.txt (all
# output), env.txt, bench.txt, compare.txt, protocol.txt, results.tar.gz (the CSVs).
#
# Settings: CREDIT_BIN (default dist/credit, else target/release/credit), CREDIT_DATA_DIR
# (default: dist/data's MNIST and CIFAR-10 slice, unpacked into a temporary folder; else
# data), TORCH_LIB (default: python3's torch/lib),
# BENCH_STEPS (default 200), BENCH_MEMBERS (default 1,8,32,128,1024), CPU_REF,
# DEVICE_CHECK_SECONDS, CHECK_DEVICE (default cuda; `cpu` dry-runs the script's plumbing on a
# machine without a GPU).
set -uo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
OUT=${OUT:-$repo/device-out}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
work=$(mktemp -d /tmp/credit-device-XXXXXX)
budget=${DEVICE_CHECK_SECONDS:-540}
dev=${CHECK_DEVICE:-cuda}
t0=$(date +%s)
exec > >(tee -a "$OUT/log.txt") 2>&1

elapsed() { echo $(($(date +%s) - t0)); }
# timeout for a step: its cap, or what is left of the budget less a reserve, if smaller
cap() {
    local left=$((budget - $(elapsed) - $2))
    [ "$left" -lt "$1" ] && echo "$left" || echo "$1"
}
summary="$OUT/summary.md"
details="$work/details.md" # appended to summary.md after the table
: >"$details"
echo "# device check (--device $dev), $(date -u +%Y-%m-%dT%H:%M:%SZ)" >"$summary"
echo >>"$summary"
echo "| step | status | seconds |" >>"$summary"
echo "|---|---|---|" >>"$summary"
# record STEP RC SECONDS: one row of the summary table
record() {
    local status
    case "$2" in
        0) status="ok" ;;
        124 | 137) status="stopped at its timeout (rc $2)" ;;
        skip) status="skipped" ;;
        *) status="failed (rc $2)" ;;
    esac
    echo "| $1 | $status | $3 |" >>"$summary"
    echo "== $1: $status after $3 s (total $(elapsed) s)"
}
# run_step NAME CAP RESERVE LOGFILE CMD...: run CMD under timeout, tee its output to LOGFILE
run_step() {
    local name=$1 limit=$2 reserve=$3 log=$4
    shift 4
    local t
    t=$(cap "$limit" "$reserve")
    if [ "$t" -lt 10 ]; then
        record "$name" skip 0
        echo "(no time left for $name)" >>"$log"
        return 0
    fi
    echo "== $name (timeout $t s): $*" | tee -a "$log"
    local s=$(date +%s)
    timeout --kill-after=10 "$t" "$@" > >(tee -a "$log") 2>&1
    local rc=$?
    record "$name" "$rc" $(($(date +%s) - s))
    return "$rc"
}
finish() {
    echo >>"$summary"
    echo "total: $(elapsed) s of the $budget s budget" >>"$summary"
    cat "$details" >>"$summary"
    (cd "$work" && find . \( -name summary.csv -o -name aggregate.csv -o -name metrics.csv \
        -o -name summary.json -o -name config.yaml \) -print0 |
        tar --null -czf "$OUT/results.tar.gz" -T - 2>/dev/null)
    echo
    cat "$summary"
}
trap finish EXIT

# ------------------------------------------------------------------ 1. environment
bin=${CREDIT_BIN:-}
if [ -z "$bin" ]; then
    if [ -x dist/credit ]; then bin=dist/credit; else bin=target/release/credit; fi
fi
if [ ! -x "$bin" ]; then
    echo "device-check: no binary at $bin: build it here with 'make device-bundle' and carry dist/" >&2
    record "find the binary" 1 0
    exit 2
fi
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")
if [ -z "${TORCH_LIB:-}" ]; then
    TORCH_LIB=$(python3 -c 'import torch, os; print(os.path.join(os.path.dirname(torch.__file__), "lib"))' 2>/dev/null)/
    TORCH_LIB=${TORCH_LIB%/}
fi
export LD_LIBRARY_PATH="$TORCH_LIB${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
{
    echo "date: $(date -u)"
    echo "host: $(uname -a)"
    echo "cores: $(nproc), memory: $(free -g | awk '/Mem:/ {print $2}') GiB"
    echo "binary: $bin ($(stat -c %s "$bin") bytes)"
    [ -f dist/MANIFEST ] && sed 's/^/  /' dist/MANIFEST
    echo "TORCH_LIB: $TORCH_LIB"
    echo
    nvidia-smi 2>&1 || echo "nvidia-smi failed"
    echo
    python3 -c 'import torch; print("python torch", torch.__version__, "cuda", torch.version.cuda, "available", torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else "")' 2>&1
    echo
    echo "ldd $bin:"
    ldd "$bin" 2>&1
    echo
    echo "ldd $TORCH_LIB/libtorch_cuda.so (loaded at run time by --device cuda), unresolved only:"
    ldd "$TORCH_LIB/libtorch_cuda.so" 2>&1 | grep -i "not found" || echo "  (none)"
} >"$OUT/env.txt" 2>&1
cat "$OUT/env.txt"
missing=$(ldd "$bin" 2>&1 | grep -i "not found")
if [ -n "$missing" ]; then
    echo "device-check: the binary's libraries do not all resolve with LD_LIBRARY_PATH=$LD_LIBRARY_PATH:" >&2
    echo "$missing" >&2
    record "environment (ldd)" 1 "$(elapsed)"
    exit 2
fi
record "environment (ldd resolves)" 0 "$(elapsed)"
"$bin" --version

# ------------------------------------------------------------------ 2. data
if [ -z "${CREDIT_DATA_DIR:-}" ]; then
    if [ -d dist/data ]; then
        CREDIT_DATA_DIR=$work/data
        mkdir -p "$CREDIT_DATA_DIR"
        [ -d dist/data/mnist ] && cp -r dist/data/mnist "$CREDIT_DATA_DIR/mnist"
        if [ -d dist/data/cifar-10-slice ]; then
            mkdir -p "$CREDIT_DATA_DIR/cifar-10"
            for f in dist/data/cifar-10-slice/*.bin.gz; do
                gzip -dc "$f" >"$CREDIT_DATA_DIR/cifar-10/$(basename "$f" .gz)"
            done
        fi
    else
        CREDIT_DATA_DIR=$repo/data
    fi
fi
export CREDIT_DATA_DIR
if [ -d "$CREDIT_DATA_DIR/mnist" ]; then
    if ! run_step "MNIST verified in $CREDIT_DATA_DIR" 60 0 "$OUT/env.txt" "$bin" data check mnist; then
        echo "device-check: MNIST in $CREDIT_DATA_DIR is damaged; see env.txt" >&2
        exit 2
    fi
    data=mnist
    ref_config=configs/fig2-official.yaml
    ref_exp=fig2-official-quick
elif [ -f "$CREDIT_DATA_DIR/cifar-10/test_batch.bin" ]; then
    data=cifar10
    cifar_train=$(($(stat -c %s "$CREDIT_DATA_DIR/cifar-10/data_batch_1.bin") / 3073))
    cifar_test=$(($(stat -c %s "$CREDIT_DATA_DIR/cifar-10/test_batch.bin") / 3073))
    # peers-cifar10's quick run, on the slice's images (its own quick block asks for 5000)
    ref_config=$work/peers-cifar10.yaml
    ref_exp=peers-cifar10-quick
    sed "s/data: { train_size: 5000, test_size: 1000 }/data: { train_size: $cifar_train, test_size: $cifar_test }/" \
        configs/peers-cifar10.yaml >"$ref_config"
    record "no MNIST: CIFAR-10 slice of $cifar_train training images in $CREDIT_DATA_DIR" 0 0
else
    echo "device-check: neither MNIST nor CIFAR-10 in $CREDIT_DATA_DIR. There is no network here: build dist/ with 'make device-bundle' (it stages what it finds) and carry it, or carry a data/ folder." >&2
    exit 2
fi

# ------------------------------------------------------------------ 4a. CPU reference, in the background
cpu_exp=""
cpu_pid=""
if [ -n "${CPU_REF:-}" ]; then
    cpu_exp=$CPU_REF
    echo "CPU reference: $CPU_REF (carried)"
else
    cpu_exp=$work/cpu/$ref_exp
    pin=()
    if command -v taskset >/dev/null && [ "$(nproc)" -ge 8 ]; then
        pin=(taskset -c "$(($(nproc) - 4))-$(($(nproc) - 1))")
    fi
    cpu_t=$(cap 420 60)
    echo "== CPU reference (background, timeout $cpu_t s): ${pin[*]} credit run $ref_config --quick --device cpu"
    (
        s=$(date +%s)
        timeout --kill-after=10 "$cpu_t" "${pin[@]}" "$bin" run "$ref_config" --quick \
            --device cpu --out "$work/cpu" >"$work/cpu.log" 2>&1
        echo "$? $(($(date +%s) - s))" >"$work/cpu.rc"
    ) &
    cpu_pid=$!
fi

# ------------------------------------------------------------------ 3. bench
steps=${BENCH_STEPS:-200}
members=${BENCH_MEMBERS:-1,8,32,128,1024}
run_step "credit bench --device $dev --network fig2,fig3 --members $members --steps $steps" \
    150 240 "$OUT/bench.txt" \
    "$bin" bench --device "$dev" --network fig2,fig3 --members "$members" --steps "$steps"
bench_rc=$?
run_step "credit bench --device $dev --network cnn --steps $steps" 60 220 "$OUT/bench.txt" \
    "$bin" bench --device "$dev" --network cnn --steps "$steps"
if [ "$bench_rc" -ne 0 ] && grep -q "no CUDA\|could not be loaded" "$OUT/bench.txt"; then
    echo "device-check: CUDA is not usable from the binary; see bench.txt and env.txt" >&2
    exit 3
fi

# ------------------------------------------------------------------ 4b. the quick run on CUDA
run_step "credit run $ref_config --quick --device $dev" 200 150 "$OUT/compare.txt" \
    "$bin" run "$ref_config" --quick --device "$dev" --out "$work/cuda"

# ------------------------------------------------------------------ 5. a full run, timed
# (the CPU reference, pinned to other cores, may still run meanwhile)
if [ "$data" = mnist ]; then
    {
        echo "# fig2-official, full length (2M iterations, 5 seeds), --device $dev"
        echo "the quick run's groups (30k iterations each), --device $dev:"
        grep -h ": done in" "$OUT/compare.txt" 2>/dev/null || echo "  (none)"
    } >"$OUT/protocol.txt"
    s=$(date +%s)
    run_step "time credit run configs/fig2-official.yaml --device $dev" 600 45 "$OUT/protocol.txt" \
        "$bin" run configs/fig2-official.yaml --device "$dev" --out "$work/full"
    rc=$?
    wall=$(($(date +%s) - s))
    python3 scripts/compare-metrics.py --protocol "$OUT/protocol.txt" "$wall" "$rc" | tee -a "$OUT/protocol.txt" "$details"
else
    # Table 1's network, every setting of the official config, on the slice for 2 epochs
    sed -e 's/^experiment: .*/experiment: table1-gpu-timing/' -e 's/epochs: [0-9]*/epochs: 2/' \
        configs/table1-cifar10-official-1seed.yaml >"$work/table1-gpu-timing.yaml"
    echo "# Table 1 (table1-cifar10-official-1seed), 2 epochs of $cifar_train images per rule, --device $dev" >"$OUT/protocol.txt"
    run_step "time Table 1's network, 2 epochs of the slice per rule, --device $dev" 400 45 "$OUT/protocol.txt" \
        "$bin" run "$work/table1-gpu-timing.yaml" --device "$dev" --out "$work/table1"
    python3 scripts/compare-metrics.py --cnn-projection "$OUT/protocol.txt" "$cifar_train" \
        configs/table1-cifar10-official-1seed.yaml | tee -a "$OUT/protocol.txt" "$details"
fi

# ------------------------------------------------------------------ 4c. CUDA against the CPU
if [ -n "$cpu_pid" ]; then
    echo "waiting for the CPU reference (its own timeout ends it within the budget) ..."
    wait "$cpu_pid"
    read -r cpu_rc cpu_s <"$work/cpu.rc"
    cat "$work/cpu.log" >>"$OUT/log.txt"
    tail -3 "$work/cpu.log"
    record "CPU reference: credit run $ref_config --quick --device cpu" "$cpu_rc" "$cpu_s"
fi
if [ -f "$cpu_exp/summary.csv" ] && [ -f "$work/cuda/$ref_exp/summary.csv" ]; then
    python3 scripts/compare-metrics.py "$cpu_exp" "$work/cuda/$ref_exp" >"$work/cmp.txt" 2>&1
    cmp_rc=$?
    cat "$work/cmp.txt" | tee -a "$OUT/compare.txt"
    record "compare CUDA with CPU: $(grep -m1 '^verdict' "$work/cmp.txt")" "$cmp_rc" 0
    { echo; echo "## CUDA against the CPU, $ref_exp"; cat "$work/cmp.txt"; } >>"$details"
else
    record "compare CUDA with CPU (a run is missing or incomplete)" skip 0
fi
exit 0
