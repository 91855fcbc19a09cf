#!/usr/bin/env bash
# examples/charlm resumes exactly: 24 straight steps, and 12 steps + --stop-after, then
# --resume to 24, end in byte-identical checkpoints and optimizer states, the same loss
# curve and the same sample (dropout 0.1, so the dropout streams are checked too).
#   scripts/check-charlm-resume.sh CHARLM [TEXT]
# Exits 77 (skipped) when the text is missing (scripts/fetch-moby-dick.sh fetches it).
set -euo pipefail
bin=$(realpath "${1:?usage: check-charlm-resume.sh CHARLM [TEXT]}")
root=$(cd "$(dirname "$0")/.." && pwd)
text=${2:-$root/data/moby-dick/data.txt}
[ -f "$text" ] || { echo "check-charlm-resume: no $text (run scripts/fetch-moby-dick.sh)"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
export OMP_WAIT_POLICY=PASSIVE
common=(--data "$text" --steps 24 --eval-every 8 --eval-iters 2 --sample-len 40 --batch 4
        --context 16 --dropout 0.1)
"$bin" "${common[@]}" --ckpt a.safetensors --csv a.csv > a.out
"$bin" "${common[@]}" --ckpt b.safetensors --csv b.csv --stop-after 12 > /dev/null
"$bin" "${common[@]}" --ckpt b.safetensors --csv b.csv --resume > b.out
cmp a.safetensors b.safetensors
cmp a.safetensors.optim b.safetensors.optim
cmp <(cut -d, -f1-4 a.csv) <(cut -d, -f1-4 b.csv)   # the 5th column is wall time
cmp <(sed -n '/^--- sample/,$p' a.out) <(sed -n '/^--- sample/,$p' b.out)
echo "check-charlm-resume: 12 + 12 steps end byte-identical to 24"
