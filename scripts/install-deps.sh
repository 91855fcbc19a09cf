#!/usr/bin/env bash
# Installs lagrad's build and test dependencies from Debian's packages, if any is
# missing. Non-interactive; uses sudo when not root. Safe to run again.
# python3-numpy lets the numpy cross-check and interop tests run instead of skipping.
# gnuplot-nox draws the examples' PNG plots (lg_train_plot for mnist, mnist_fit and cnn;
# examples/sharpness).
set -euo pipefail

PACKAGES=(cmake make gcc pkg-config libopenblas-openmp-dev liblapacke-dev libcmocka-dev libcjson-dev zlib1g-dev python3-numpy gnuplot-nox)
# --dev adds the tools of the hardening checks: clang (libFuzzer, scripts/fuzz.sh) and
# valgrind (scripts/valgrind-examples.sh). --mpi adds OpenMPI, for the optional MPI module
# (dist/, scripts/test-dist.sh). --docs adds Doxygen, for the API reference (the `docs`
# target, docs/Doxyfile.in). The flags combine.
for flag in "$@"; do
  case "$flag" in
    --dev) PACKAGES+=(clang valgrind) ;;
    --mpi) PACKAGES+=(openmpi-bin libopenmpi-dev) ;;
    --docs) PACKAGES+=(doxygen) ;;
    *) echo "install-deps: unknown flag $flag (--dev, --mpi, --docs)" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

# Everything this script says goes to stderr: callers may be capturing another script's stdout.
echo "install-deps: installing ${missing[*]}" >&2
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
{ $SUDO apt-get update -qq && $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >&2
