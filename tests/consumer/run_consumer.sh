#!/usr/bin/env bash
# Installs the current build tree into a fresh temporary prefix, then builds and runs
# main.c against it four ways: find_package(lagrad) with the shared and the static target,
# and plain `cc $(pkg-config ...)` with the shared library and with liblagrad.a; and, when
# the build has the MPI module, dist_main.c through lagrad::lagrad_dist and lagrad-dist.pc.
# Exit status: 0 all passed, 77 skipped (no pkg-config, or an absolute install dir that a
# temporary prefix cannot hold), anything else a failure.
#
# usage: run_consumer.sh CMAKE BUILD_DIR CONFIG CC LIBDIR INCLUDEDIR SANITIZE(ON|OFF)
set -euo pipefail
[ $# -eq 7 ] || { echo "usage: $0 CMAKE BUILD_DIR CONFIG CC LIBDIR INCLUDEDIR SANITIZE" >&2; exit 2; }
cmake=$1 build=$2 config=$3 cc=$4 libdir=$5 includedir=$6 sanitize=$7
here=$(cd "$(dirname "$0")" && pwd)

skip() { echo "SKIP: $*"; exit 77; }
command -v pkg-config > /dev/null || skip "pkg-config not found (apt-get install pkgconf)"
case $libdir$includedir in /*) skip "absolute CMAKE_INSTALL_LIBDIR/INCLUDEDIR" ;; esac

# A sanitized lagrad needs the sanitizer runtimes in the program that loads it.
san=()
case $sanitize in ON | on | TRUE | true | 1 | YES | yes) san=(-fsanitize=address,undefined) ;; esac

tmp=$(mktemp -d "${TMPDIR:-/tmp}/lagrad-install.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix
step() { echo "== $*"; }

step "install $build into $prefix"
"$cmake" --install "$build" --config "$config" --prefix "$prefix" > "$tmp/install.log" ||
  { cat "$tmp/install.log"; exit 1; }
for f in "$includedir/lagrad/lagrad.h" "$libdir/liblagrad.a" "$libdir/liblagrad.so" \
         "$libdir/cmake/lagrad/lagradConfig.cmake" \
         "$libdir/cmake/lagrad/lagradConfigVersion.cmake" "$libdir/pkgconfig/lagrad.pc"; do
  [ -e "$prefix/$f" ] || { echo "FAIL: not installed: $f" >&2; exit 1; }
done
if ls "$prefix/$includedir/lagrad" | grep -q '_impl\.h$'; then
  echo "FAIL: an internal *_impl.h header was installed" >&2; exit 1
fi
# The installed package must stand alone: no path into the build or the source tree.
src=$(cd "$here/../.." && pwd)
if grep -rlF -e "$(cd "$build" && pwd)" -e "$src" "$prefix/$libdir/cmake" "$prefix/$libdir/pkgconfig"; then
  echo "FAIL: the installed package files above refer to the build or source tree" >&2; exit 1
fi

step "find_package(lagrad): configure and build tests/consumer"
cflags=${san[*]:-}
"$cmake" -S "$here" -B "$tmp/consumer" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_FIND_PACKAGE_NO_PACKAGE_REGISTRY=ON \
  -DCMAKE_C_COMPILER="$cc" -DCMAKE_C_FLAGS="$cflags" -DCMAKE_EXE_LINKER_FLAGS="$cflags" \
  > "$tmp/consumer.log" || { cat "$tmp/consumer.log"; exit 1; }
grep -qF "lagrad_DIR=$prefix/" "$tmp/consumer.log" ||
  { grep lagrad_DIR "$tmp/consumer.log"; echo "FAIL: found a lagrad outside $prefix" >&2; exit 1; }
"$cmake" --build "$tmp/consumer" > "$tmp/consumer-build.log" ||
  { cat "$tmp/consumer-build.log"; exit 1; }
step "run consumer_shared"; "$tmp/consumer/consumer_shared"
step "run consumer_static"; "$tmp/consumer/consumer_static"

export PKG_CONFIG_PATH=$prefix/$libdir/pkgconfig
step "pkg-config, shared: $cc main.c $(pkg-config --cflags --libs lagrad)"
# shellcheck disable=SC2046 # pkg-config output is meant to split into words
"$cc" ${san[@]+"${san[@]}"} -std=c11 -Wall -Wextra -Wpedantic -Werror -o "$tmp/pc_shared" \
  "$here/main.c" $(pkg-config --cflags --libs lagrad)
LD_LIBRARY_PATH=$prefix/$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} "$tmp/pc_shared"

# -l:liblagrad.a makes the linker take the archive where -llagrad would take the .so.
static_libs=$(pkg-config --static --libs lagrad)
static_libs=${static_libs/-llagrad/-l:liblagrad.a}
step "pkg-config --static: $cc main.c $(pkg-config --cflags lagrad) $static_libs"
# shellcheck disable=SC2046,SC2086
"$cc" ${san[@]+"${san[@]}"} -std=c11 -Wall -Wextra -Wpedantic -Werror -o "$tmp/pc_static" \
  "$here/main.c" $(pkg-config --cflags lagrad) $static_libs
if readelf -d "$tmp/pc_static" | grep -q 'NEEDED.*liblagrad'; then
  echo "FAIL: pc_static needs liblagrad.so" >&2; exit 1
fi
"$tmp/pc_static"

# The MPI module, when this build has it: the CMake target (built above when lagrad_dist
# was found) and lagrad-dist.pc, each run as one MPI process (mpiexec where there is one;
# OpenMPI refuses root without the two variables). MPI's own allocations are not leaks.
if [ -e "$prefix/$libdir/liblagrad_dist.so" ]; then
  [ -e "$prefix/$libdir/pkgconfig/lagrad-dist.pc" ] &&
    [ -e "$prefix/$libdir/cmake/lagrad/lagradDistTargets.cmake" ] ||
    { echo "FAIL: liblagrad_dist installed without its CMake targets or lagrad-dist.pc" >&2; exit 1; }
  [ -x "$tmp/consumer/consumer_dist" ] ||
    { echo "FAIL: find_package(lagrad) gave no lagrad::lagrad_dist" >&2; exit 1; }
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 ASAN_OPTIONS=detect_leaks=0
  one=()
  command -v mpiexec > /dev/null && one=(mpiexec -np 1)
  step "run consumer_dist"; "${one[@]}" "$tmp/consumer/consumer_dist"
  step "pkg-config: $cc dist_main.c $(pkg-config --cflags --libs lagrad-dist)"
  # shellcheck disable=SC2046
  "$cc" ${san[@]+"${san[@]}"} -std=c11 -Wall -Wextra -Wpedantic -Werror -o "$tmp/pc_dist" \
    "$here/dist_main.c" $(pkg-config --cflags --libs lagrad-dist)
  LD_LIBRARY_PATH=$prefix/$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} "${one[@]}" "$tmp/pc_dist"
  echo "install consumer: lagrad_dist through find_package and pkg-config ran correctly"
fi
echo "install consumer: all four builds ran correctly"
