#!/usr/bin/env bash
# examples/dist/mnist_dist on 2,048 Fashion-MNIST samples for 2 epochs: 2 processes at
# global batch 128 end with the test accuracy of 1 process (±0.003) and per-epoch training
# losses within 1e-4 relative (the reduction rounds differently in f32); and under 2
# processes, 1 epoch + --resume ends byte-identical to 2 straight epochs. Exit 77 (skip)
# without the data.
#   check-example.sh MNIST_DIST MPIEXEC [MPIEXEC FLAGS...]
set -euo pipefail
prog=$1 mpiexec=$2
shift 2
flags=("$@")
data=${DATA:-/usr/share/datasets/fashion-mnist}
[ -e "$data/train-labels-idx1-ubyte.gz" ] || [ -e "$data/train-labels-idx1-ubyte" ] ||
  { echo "check-example: no Fashion-MNIST in $data (scripts/fetch-fashion-mnist.sh); skipped"; exit 77; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1
export OMP_WAIT_POLICY=PASSIVE
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
common=(--data "$data" --train-limit 2048 --test-limit 2000 --epochs 2)
run() { # NP NAME [FLAGS...]
  local np=$1 name=$2
  shift 2
  timeout 120 "$mpiexec" -np "$np" "${flags[@]}" "$prog" "${common[@]}" \
    --checkpoint "$name.safetensors" --csv "$name.csv" "$@" | tee "$name.log" | grep RESULT || true
}
run 1 one
run 2 two
run 2 half --stop-after 1 > /dev/null
run 2 half --resume
acc() { sed -n 's/^RESULT .*test_accuracy=\([0-9.]*\) .*/\1/p' "$1.log"; }
a1=$(acc one) a2=$(acc two)
[ -n "$a1" ] && [ -n "$a2" ] || { echo "FAIL: a run did not end in its RESULT line"; exit 1; }
awk -v a="$a1" -v b="$a2" 'BEGIN {d = a - b; exit !(d <= 0.003 && d >= -0.003)}' ||
  { echo "FAIL: test accuracy $a2 at 2 processes, $a1 at 1"; exit 1; }
paste -d, one.csv two.csv | awk -F, 'NR > 1 {r = ($2 - $7) / $2; if (r < 0) r = -r;
  if (r > 1e-4) {print "FAIL: epoch " $1 " loss " $7 " at 2 processes, " $2 " at 1"; bad = 1}}
  END {exit bad}'
cmp two.safetensors half.safetensors && cmp two.safetensors.optim half.safetensors.optim ||
  { echo "FAIL: 1 epoch + --resume differs from 2 straight epochs at 2 processes"; exit 1; }
echo "check-example: test accuracy $a1 (1 process) and $a2 (2 processes); resume exact"
