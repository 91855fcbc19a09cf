#!/usr/bin/env bash
# Checks that examples/mnist resumes exactly: 4 epochs in one go, and 2 epochs
# (--stop-after 2) then --resume for the rest, must give the same loss/accuracy curves and
# a byte-identical final checkpoint (parameters, Adam moments, step and RNG restored).
# Usage: scripts/check-resume.sh <mnist-binary> [data-dir]. Exit 77 (skip) without data.
set -euo pipefail
bin=$(realpath "${1:?usage: check-resume.sh <mnist-binary> [data-dir]}")
data=${2:-/usr/share/datasets/fashion-mnist}
[ -e "$data/train-images-idx3-ubyte.gz" ] || [ -e "$data/train-images-idx3-ubyte" ] || {
    echo "check-resume: no data in $data, skipped"; exit 77; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cd "$dir"
common=(--data "$data" --epochs 4 --train-limit 3000 --test-limit 500 --threads 1)
"$bin" "${common[@]}" --csv whole.csv --checkpoint whole.st > /dev/null
"$bin" "${common[@]}" --csv parts.csv --checkpoint parts.st --stop-after 2 > /dev/null
"$bin" "${common[@]}" --csv parts.csv --checkpoint parts.st --resume > /dev/null
# the seconds column differs; everything else must not
cut -d, -f1-4 whole.csv > whole.curves
cut -d, -f1-4 parts.csv > parts.curves
cmp whole.curves parts.curves || { echo "check-resume: curves differ"; diff whole.curves parts.curves; exit 1; }
cmp whole.st parts.st || { echo "check-resume: final parameters differ"; exit 1; }
cmp whole.st.optim parts.st.optim || { echo "check-resume: optimizer state differs"; exit 1; }
echo "check-resume: resumed run identical to the unbroken one ($(wc -l < whole.curves) lines)"
