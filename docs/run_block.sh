#!/bin/sh
# Runs one code block of docs/tutorial.md as a CTest test (see docs/CMakeLists.txt).
#   run_block.sh c BINARY NEEDS_DATA DATA_DIR
#   run_block.sh python SCRIPT NEEDS_DATA DATA_DIR
# A block that reads Fashion-MNIST (NEEDS_DATA 1) gets DATA_DIR as its argument. Exit 77
# (CTest's skip) when the data, or for Python torch and safetensors, are not installed.
set -eu
kind=$1 prog=$2 needs_data=$3 data=$4
if [ "$needs_data" = 1 ] && [ ! -f "$data/train-images-idx3-ubyte.gz" ] &&
   [ ! -f "$data/train-images-idx3-ubyte" ]; then
  echo "SKIP: no Fashion-MNIST in $data (scripts/fetch-fashion-mnist.sh)"
  exit 77
fi
case "$kind" in
  c) exec "$prog" "$data" ;;
  python)
    if ! python3 -c "import torch, safetensors" 2>/dev/null; then
      echo "SKIP: this block needs PyTorch and safetensors (pip install torch safetensors)"
      exit 77
    fi
    exec python3 "$prog" ;;
  *) echo "run_block.sh: unknown kind $kind" >&2; exit 2 ;;
esac
