#!/usr/bin/env bash
# Quick start, step 1: install what is missing, fetch Fashion-MNIST (Debian's
# dataset-fashion-mnist), build lagrad and train the MNIST-style demo (examples/mnist).
# Extra arguments go to the example (try --help); the softmax-regression demo on generated
# data is build/examples/logreg.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
data=$(scripts/fetch-fashion-mnist.sh)
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release > /dev/null
cmake --build build -j"$(nproc)" --target mnist logreg
build/examples/mnist --data "$data" "$@"
