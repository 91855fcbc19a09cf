#!/usr/bin/env bash
# Issue 15's check that no file outside backend/ computes on tensor data. A kernel needs
# typed access to the elements: lg_load/lg_store/lg_load_int, a cast of a data pointer to
# float/double/int, a float/double pointer initialised from one, or a function taking a
# float/double array and its length. (A heuristic: it reads text, not types.) Outside backend/ only
# the files listed below may do that, each for the reason given; any other file that
# does fails this check, so new host loops cannot creep back in. The list is the seam's
# remaining debt: shrink it, never grow it without a reason a reviewer accepts.
set -euo pipefail
cd "$(dirname "$0")/.."
declare -A allowed=(
  # caller-owned host tensors by definition: element get/set, fills from host arrays
  [tensor/tensor.c]="the public element accessors of host tensors"
  # data loading and files: bytes from disk become host tensors (docs/backends.md)
  [nn/dataset.c]="batches copied out of a host dataset"
  [nn/text.c]="UTF-8 text encoded into host id tensors"
  [nn/augment.c]="augmentation of a host batch while it is assembled"
  [nn/checkpoint.c]="safetensors bytes to and from host tensors"
  [nn/optim_state.c]="optimizer-state files: CRC and finiteness of the bytes written"
  [nn/sample.c]="sampling reads one row of logits to the host"
  # tools that are host algorithms over values read back from the graph
  [autograd/gradcheck.c]="finite differences: perturbs host inputs, one element at a time"
  [nn/lanczos.c]="Krylov vectors kept in host memory (k x P), not on the device"
  [nn/curvature.c]="Hutchinson probes and SLQ weights over host vectors"
)
pattern='lg_load\(|lg_store\(|lg_load_int\(|\((const )?(float|double|int32_t|int64_t) \*\)|(const )?(float|double) \*(restrict )?[a-z_]+ = |(float|double) \*(restrict )?[a-z_]+, int64_t [a-z_]+[,)]'
fail=0
for f in $(grep -lE "$pattern" autograd/*.c nn/*.c linalg/*.c tensor/*.c dist/*.c); do
  if [ -z "${allowed[$f]+x}" ]; then
    echo "check-seam: $f computes on tensor data outside backend/:"
    grep -nE "$pattern" "$f" | head -5
    fail=1
  fi
done
for f in "${!allowed[@]}"; do
  grep -qE "$pattern" "$f" 2>/dev/null ||
    { echo "check-seam: $f no longer needs its exception: remove it from the list"; fail=1; }
done
[ $fail = 0 ] && echo "check-seam: no computation on tensor data outside backend/ beyond the ${#allowed[@]} listed files"
exit $fail
