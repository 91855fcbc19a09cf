#!/usr/bin/env bash
# Builds the optional MPI module (dist/, library lagrad_dist) with its tests and example in
# build-dist/ and runs its tests through mpiexec on loopback (2 and 3 processes; OpenMPI
# as root needs OMPI_ALLOW_RUN_AS_ROOT, which the tests set), examples/cnn and
# examples/mnist_fit under mpiexec among them. Installs OpenMPI first.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --mpi
cmake -S . -B build-dist -DCMAKE_BUILD_TYPE=Release > /dev/null
grep -q '^LAGRAD_DIST_BUILT:INTERNAL=1' build-dist/CMakeCache.txt ||
  { echo "test-dist: CMake did not find MPI (apt-get install libopenmpi-dev)" >&2; exit 1; }
cmake --build build-dist -j"$(nproc)" --target lagrad_dist test_dist_equiv test_dist_errors \
  test_dist_resume dist_fault_worker mnist_dist cnn mnist_fit
cd build-dist
ctest --output-on-failure -R '^test_dist_'
