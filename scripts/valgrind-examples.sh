#!/usr/bin/env bash
# Runs every program in examples/ with small settings under valgrind memcheck and fails on
# any memory error (invalid read/write, uninitialised value, bad free) or any block
# "definitely lost". Builds its own plain RelWithDebInfo tree (valgrind and the
# sanitizers do not mix), by default build-valgrind/ at the repository root.
#
#   scripts/valgrind-examples.sh [BUILD_DIR]
#
# Only "definite" leaks count as errors: libgomp's and OpenBLAS's thread pools keep their
# blocks until exit ("still reachable", and "possibly lost" for thread stacks), which is
# not a leak of lagrad's. tests/valgrind.supp holds the suppressions that are needed on
# top of that, each with its reason. The examples that read Fashion-MNIST are skipped
# (with a note) when scripts/fetch-fashion-mnist.sh has not been run.
# Environment: JOBS (build parallelism, default 2), PAR (examples run at once, default 2),
# DATA (the Fashion-MNIST folder), OMP_NUM_THREADS (default 2; the examples that take
# --threads use their default of 1).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$ROOT/build-valgrind}
DATA=${DATA:-/usr/share/datasets/fashion-mnist}
TEXT=${TEXT:-$ROOT/data/moby-dick/data.txt} # examples/charlm's text (scripts/fetch-moby-dick.sh)
JOBS=${JOBS:-2}
SUPP=$ROOT/tests/valgrind.supp

command -v valgrind > /dev/null || { echo "valgrind-examples: valgrind not found (apt-get install valgrind)" >&2; exit 1; }

cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLAGRAD_SANITIZE=OFF \
  -DLAGRAD_BUILD_TESTS=OFF -DLAGRAD_BUILD_BENCH=OFF -DLAGRAD_BUILD_EXAMPLES=ON > /dev/null
cmake --build "$BUILD" -j"$JOBS" > /dev/null

OUT=$(mktemp -d /tmp/lagrad-valgrind.XXXXXX)
trap 'rm -rf "$OUT"' EXIT
have_data=0
[ -f "$DATA/train-images-idx3-ubyte.gz" ] || [ -f "$DATA/train-images-idx3-ubyte" ] && have_data=1

# The small settings of each example: a few seconds natively at most. An example missing
# here fails the script, so a new one gets its settings when it is added.
settings() {
  case $1 in
    attention)     echo "--quick --steps 20" ;;
    charlm)        echo "--data $TEXT --steps 2 --batch 2 --context 8 --eval-every 1 --eval-iters 1 --sample-len 4 --csv $OUT/charlm.csv --ckpt $OUT/charlm.safetensors" ;;
    cnn)           echo "--data $DATA --epochs 1 --train-limit 64 --test-limit 32 --batch 32 --csv $OUT/cnn.csv --checkpoint $OUT/cnn.safetensors" ;;
    gaussian)      echo "" ;;                 # fixed size: about 0.5 s natively
    least_squares) echo "" ;;
    logreg)        echo "1" ;;                # one epoch
    lora_finetune) echo "--data $DATA --quick --pretrain-epochs 1 --epochs 1 --train-limit 2000 --test-limit 400" ;;
    mnist_fit)     echo "--data $DATA --epochs 2 --train-limit 300 --test-limit 100 --val 0.2 --patience 1 --csv $OUT/mnist_fit.csv --checkpoint $OUT/mnist_fit.safetensors" ;;
    mnist)         echo "--data $DATA --epochs 1 --train-limit 500 --test-limit 200 --threads 2 --csv $OUT/mnist.csv --checkpoint $OUT/mnist.safetensors" ;;
    pca)           echo "--data $DATA --n 500 --out $OUT" ;;
    sharpness)     echo "--data $DATA --n 100 --hidden 16 --steps 4 --every 2 --max-iter 5 --csv $OUT/sharpness.csv --png $OUT/sharpness.png" ;;
    svd_compress)  echo "--data $DATA --out $OUT" ;;
    *)             return 1 ;;
  esac
}
needs_data() { case $1 in cnn|lora_finetune|mnist|pca|sharpness|svd_compress) return 0 ;; *) return 1 ;; esac; }

# run_one NAME ARGS...: one example under memcheck; its verdict goes to $OUT/NAME.verdict.
run_one() {
  local name=$1 t0 rc=0
  shift
  t0=$(date +%s)
  (cd "$OUT" && valgrind --tool=memcheck --error-exitcode=99 --leak-check=full \
     --show-leak-kinds=definite --errors-for-leak-kinds=definite \
     --suppressions="$SUPP" --log-file="$OUT/$name.vg" \
     "$BUILD/examples/$name" "$@" > "$OUT/$name.out" 2>&1) || rc=$?
  echo "$rc $(( $(date +%s) - t0 ))" > "$OUT/$name.verdict"
}

export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2} OMP_WAIT_POLICY=PASSIVE
PAR=${PAR:-2} # examples under valgrind at once (valgrind runs each on one core)
failed=0
start=$(date +%s)
names=()
for src in "$ROOT"/examples/*.c; do
  name=$(basename "$src" .c)
  if ! args=$(settings "$name"); then
    echo "FAIL $name: no small settings in scripts/valgrind-examples.sh" >&2
    failed=1
    continue
  fi
  if [ "$name" = charlm ] && [ ! -f "$TEXT" ]; then
    echo "SKIP $name: no $TEXT (run scripts/fetch-moby-dick.sh)"
    continue
  fi
  if needs_data "$name" && [ $have_data = 0 ]; then
    echo "SKIP $name: no Fashion-MNIST in $DATA (run scripts/fetch-fashion-mnist.sh)"
    continue
  fi
  while [ "$(jobs -rp | wc -l)" -ge "$PAR" ]; do wait -n || true; done
  # shellcheck disable=SC2086  # the settings are words
  run_one "$name" $args &
  names+=("$name")
done
wait
for name in "${names[@]}"; do
  read -r rc secs < "$OUT/$name.verdict"
  if [ "$rc" = 0 ]; then
    echo "ok   $name (${secs} s): $(grep -E 'ERROR SUMMARY' "$OUT/$name.vg" | sed 's/^==[0-9]*== //')"
  else
    echo "FAIL $name (${secs} s, exit $rc), valgrind log:" >&2
    cat "$OUT/$name.vg" >&2
    tail -5 "$OUT/$name.out" >&2
    failed=1
  fi
done
echo "valgrind-examples: ${#names[@]} examples in $(( $(date +%s) - start )) s wall ($PAR at a time)"
exit $failed
