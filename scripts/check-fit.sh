#!/usr/bin/env bash
# Checks the training helper against the loop written out: examples/mnist_fit (one
# lg_train_fit call) must end with the same parameters and optimizer state, byte for byte,
# as examples/mnist (the same model and recipe, its loop by hand); and mnist_fit stopped
# after epoch 2 (--stop-after 2) and resumed must end byte-identical to an unbroken run,
# curves included, with a validation split and early-stopping state in play.
# Usage: scripts/check-fit.sh <examples-dir> [data-dir]. Exit 77 (skip) without data.
set -euo pipefail
bin=$(realpath "${1:?usage: check-fit.sh <examples-dir> [data-dir]}")
data=${2:-/usr/share/datasets/fashion-mnist}
[ -e "$data/train-images-idx3-ubyte.gz" ] || [ -e "$data/train-images-idx3-ubyte" ] || {
    echo "check-fit: no data in $data, skipped"; exit 77; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cd "$dir"
common=(--data "$data" --epochs 3 --train-limit 3000 --test-limit 500 --threads 1 --png '')
"$bin/mnist" "${common[@]}" --csv loop.csv --checkpoint loop.st > /dev/null
"$bin/mnist_fit" "${common[@]}" --csv fit.csv --checkpoint fit.st > /dev/null 2>&1
cmp loop.st fit.st || { echo "check-fit: lg_train_fit's parameters differ from the loop's"; exit 1; }
cmp loop.st.optim fit.st.optim || { echo "check-fit: the optimizer states differ"; exit 1; }
val=(--val 0.1 --patience 5)
"$bin/mnist_fit" "${common[@]}" "${val[@]}" --csv whole.csv --checkpoint whole.st > /dev/null 2>&1
"$bin/mnist_fit" "${common[@]}" "${val[@]}" --csv parts.csv --checkpoint parts.st --stop-after 2 \
    > /dev/null 2>&1
"$bin/mnist_fit" "${common[@]}" "${val[@]}" --csv parts.csv --checkpoint parts.st --resume \
    > /dev/null 2>&1
# the seconds column (the last) differs; everything else must not
for f in whole parts; do sed 's/,[^,]*$//' $f.csv > $f.curves; done
cmp whole.curves parts.curves || { echo "check-fit: resumed curves differ"; diff whole.curves parts.curves; exit 1; }
cmp whole_steps.csv parts_steps.csv || { echo "check-fit: resumed step curves differ"; exit 1; }
for f in st st.optim st.best; do
    cmp whole.$f parts.$f || { echo "check-fit: resumed $f differs"; exit 1; }
done
echo "check-fit: lg_train_fit matches the hand-written loop byte for byte, and resumes exactly"
