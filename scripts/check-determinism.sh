#!/usr/bin/env bash
# Determinism check (issue 7, part 6): trains examples/mnist twice at one thread and twice
# at two threads, with small settings, each run in its own temporary folder, and requires
# the two runs at each thread count to agree: the loss/accuracy curve (the CSV without its
# timing column) byte for byte, and the saved weights and optimizer state (the
# safetensors files) byte for byte, which is the bit-level check (the CSV rounds to 6
# digits). Whether one and two threads agree is reported, not required: OpenBLAS splits a
# GEMM's reductions differently per thread count (see README, "Determinism").
#
#   scripts/check-determinism.sh MNIST_BINARY [DATA_DIR]
#
# Exit status: 0 when deterministic, 1 when not (the differing lines are printed), 77
# (CTest's SKIP_RETURN_CODE) when Fashion-MNIST is not installed, 2 on bad usage.
set -euo pipefail

MNIST=${1:-}
DATA=${2:-${DATA:-/usr/share/datasets/fashion-mnist}}
[ -n "$MNIST" ] && [ -x "$MNIST" ] || { echo "usage: check-determinism.sh MNIST_BINARY [DATA_DIR]" >&2; exit 2; }
if [ ! -f "$DATA/train-images-idx3-ubyte.gz" ] && [ ! -f "$DATA/train-images-idx3-ubyte" ]; then
  echo "check-determinism: SKIP: no Fashion-MNIST in $DATA (scripts/fetch-fashion-mnist.sh)"
  exit 77
fi
MNIST=$(cd "$(dirname "$MNIST")" && pwd)/$(basename "$MNIST")

WORK=$(mktemp -d /tmp/lagrad-determinism.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
export OMP_WAIT_POLICY=PASSIVE

# run THREADS TAG: one training run in $WORK/TAG; its curve without the seconds column.
run() {
  local dir=$WORK/$2
  mkdir -p "$dir"
  (cd "$dir" && OMP_NUM_THREADS=$1 "$MNIST" --data "$DATA" --epochs 2 --train-limit 2000 \
     --test-limit 500 --threads "$1" --csv curve.csv --checkpoint model.safetensors \
     > log.txt 2>&1) || { echo "check-determinism: mnist --threads $1 failed:" >&2; cat "$dir/log.txt" >&2; exit 1; }
  head -1 "$dir/curve.csv" | grep -q '^epoch,train_loss,train_accuracy,test_accuracy,seconds$' ||
    { echo "check-determinism: unexpected CSV header: $(head -1 "$dir/curve.csv")" >&2; exit 1; }
  cut -d, -f1-4 "$dir/curve.csv" > "$dir/curve.txt"
}

# same A B WHAT: 0 when runs A and B agree on the curve and every saved file.
same() {
  local ok=0 f
  if ! cmp -s "$WORK/$1/curve.txt" "$WORK/$2/curve.txt"; then
    echo "$3: the loss curves differ:"
    diff "$WORK/$1/curve.txt" "$WORK/$2/curve.txt" || true
    ok=1
  fi
  for f in model.safetensors model.safetensors.optim; do
    [ -f "$WORK/$1/$f" ] || { echo "$3: $f was not written"; ok=1; continue; }
    cmp -s "$WORK/$1/$f" "$WORK/$2/$f" || { echo "$3: $f differs"; ok=1; }
  done
  return $ok
}

status=0
for t in 1 2; do
  run "$t" "t$t-a"
  run "$t" "t$t-b"
  if same "t$t-a" "t$t-b" "--threads $t"; then
    echo "check-determinism: --threads $t: two runs bit-identical (curve: $(tail -1 "$WORK/t$t-a/curve.txt"))"
  else
    status=1
  fi
done
if same t1-a t2-a "--threads 1 vs 2" > /dev/null; then
  echo "check-determinism: --threads 1 and 2 agree bit for bit"
else
  echo "check-determinism: --threads 1 and 2 differ (expected: GEMM and whole-tensor sums split by thread count); last epochs: $(tail -1 "$WORK/t1-a/curve.txt") vs $(tail -1 "$WORK/t2-a/curve.txt")"
fi
exit $status
