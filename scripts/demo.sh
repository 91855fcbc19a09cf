#!/usr/bin/env bash
# Quick start, step 1: install what is missing, build lagrad and run the demo.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release > /dev/null
cmake --build build -j"$(nproc)" --target logreg
build/examples/logreg "$@"
