#!/usr/bin/env bash
# Makes sure Fashion-MNIST is on this machine: installs Debian's dataset-fashion-mnist when it
# is missing (apt-get, sudo when not root), checks the four files against the sha256 sums of
# the package (see ../shared/DATA.md), and prints the folder, which examples/mnist --data and
# lg_dataset_load_mnist read as it is (gzip-compressed IDX files).
# Idempotent: with the package installed it only checks the sums.
set -euo pipefail

DIR=/usr/share/datasets/fashion-mnist
SUMS="b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7  train-images-idx3-ubyte.gz
0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056  train-labels-idx1-ubyte.gz
cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa  t10k-images-idx3-ubyte.gz
8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05  t10k-labels-idx1-ubyte.gz"

die() { echo "fetch-fashion-mnist: $*" >&2; exit 1; }

if ! dpkg-query -W -f='${Status}' dataset-fashion-mnist 2>/dev/null | grep -q "install ok installed"; then
  echo "fetch-fashion-mnist: installing dataset-fashion-mnist" >&2
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo > /dev/null || die "not root and no sudo: apt-get install dataset-fashion-mnist as root"
    SUDO="sudo"
  fi
  export DEBIAN_FRONTEND=noninteractive
  # stdout carries only the folder (callers capture it): apt and dpkg talk on stderr.
  { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq --no-install-recommends dataset-fashion-mnist; } >&2
fi

[ -d "$DIR" ] || die "$DIR missing after installing dataset-fashion-mnist"
(cd "$DIR" && echo "$SUMS" | sha256sum --check --quiet --strict) ||
  die "the files in $DIR do not match the sha256 sums of the package"
echo "$DIR"
