#!/usr/bin/env bash
# examples/cnn or examples/mnist_fit (lg_train_fit with lagrad_dist's collectives) under
# mpiexec: 2 processes at the global batch end where 1 process ends (test accuracy within
# ACC, per-epoch training and test losses within LOSS relative: the gradient sum rounds
# differently in f32, and the CNN's batch norm keeps per-rank statistics); each rank in a
# folder of its own, rank 0 alone writes the CSVs, the PNG and the checkpoints and prints;
# and at 2 processes, 1 epoch + --resume ends byte-identical to 2 straight epochs.
# Exit 77 (skip) without Fashion-MNIST.
#   check-fit-example.sh PROG ACC LOSS MPIEXEC [MPIEXEC FLAGS...] -- [PROG FLAGS...]
set -euo pipefail
prog=$1 acc_tol=$2 loss_tol=$3 mpiexec=$4
shift 4
flags=()
while [ $# -gt 0 ] && [ "$1" != -- ]; do flags+=("$1"); shift; done
[ $# -gt 0 ] && shift
common=("$@")
data=${DATA:-/usr/share/datasets/fashion-mnist}
[ -e "$data/train-labels-idx1-ubyte.gz" ] || [ -e "$data/train-labels-idx1-ubyte" ] ||
  { echo "check-fit-example: no Fashion-MNIST in $data; skipped"; exit 77; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1
export OMP_WAIT_POLICY=PASSIVE
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
name=$(basename "$prog")
# run OWN NP DIR [FLAGS...]: every rank works in DIR, or (OWN 1) each in DIR/rank<k>
run() {
  local own=$1 np=$2 dir=$3
  shift 3
  mkdir -p "$dir"
  timeout 240 "$mpiexec" -np "$np" "${flags[@]}" /bin/sh -c \
    'd=$0; [ "$1" = 1 ] && d=$0/rank${OMPI_COMM_WORLD_RANK:-${PMI_RANK:-0}}; shift
     mkdir -p "$d" && cd "$d" && exec "$@"' "$tmp/$dir" "$own" "$prog" --data "$data" "${common[@]}" \
    --csv c.csv --checkpoint c.safetensors "$@" > "$dir.log" 2> "$dir.err" ||
    { echo "FAIL: $name at $np process(es) in $dir:"; cat "$dir.log" "$dir.err"; exit 1; }
}
run 1 1 one
run 1 2 two
run 0 2 straight --epochs 2
run 0 2 half --epochs 2 --stop-after 1
run 0 2 half --epochs 2 --resume

for f in c.csv c_steps.csv c.safetensors c.safetensors.optim; do
  [ -s "two/rank0/$f" ] || { echo "FAIL: rank 0 did not write $f"; exit 1; }
done
if [ -n "$(ls -A two/rank1)" ]; then
  echo "FAIL: rank 1 wrote files: $(ls two/rank1)"; exit 1
fi
if command -v gnuplot > /dev/null; then
  [ -s two/rank0/c.png ] || { echo "FAIL: rank 0 drew no PNG"; exit 1; }
fi
[ "$(grep -c '^RESULT' two.log)" = 1 ] ||
  { echo "FAIL: $(grep -c '^RESULT' two.log) RESULT lines at 2 processes, not 1"; exit 1; }

acc() { sed -n 's/^RESULT .*test_accuracy=\([0-9.]*\) .*/\1/p' "$1.log"; }
a1=$(acc one) a2=$(acc two)
[ -n "$a1" ] && [ -n "$a2" ] || { echo "FAIL: a run did not end in its RESULT line"; exit 1; }
awk -v a="$a1" -v b="$a2" -v t="$acc_tol" 'BEGIN {d = a - b; exit !(d <= t && d >= -t)}' ||
  { echo "FAIL: test accuracy $a2 at 2 processes, $a1 at 1 (tolerance $acc_tol)"; exit 1; }
# epoch,train_loss,train_accuracy,test_loss,test_accuracy,lr,seconds: columns 2 and 4
paste -d, one/rank0/c.csv two/rank0/c.csv | awk -F, -v t="$loss_tol" -v n=7 'NR > 1 {
  for (c = 2; c <= 4; c += 2) {r = ($c - $(c + n)) / $c; if (r < 0) r = -r; if (r > worst) worst = r
    if (r > t) {print "FAIL: epoch " $1 " column " c ": " $(c + n) " at 2 processes, " $c " at 1"; bad = 1}}}
  END {printf "check-fit-example: largest relative loss difference %.2g\n", worst; exit bad}'
cmp straight/c.safetensors half/c.safetensors &&
  cmp straight/c.safetensors.optim half/c.safetensors.optim ||
  { echo "FAIL: 1 epoch + --resume differs from 2 straight epochs at 2 processes"; exit 1; }
echo "check-fit-example: $name test accuracy $a1 (1 process) and $a2 (2 processes); rank 0" \
  "alone writes; resume exact"
