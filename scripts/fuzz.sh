#!/bin/sh
# Builds the libFuzzer targets of tests/fuzz/ with clang (ASan + UBSan, in build-fuzz/) and
# runs each for SECONDS (default 60), one after the other. Fails if any target finds a
# crash, a sanitizer report, a leak or an allocation over the cap; the input that did it
# is left in build-fuzz/artifacts/ (reduce it, fix the loader, and add it to
# tests/fuzz/regress/ so that test_fuzz_regress replays it).
#   usage: scripts/fuzz.sh [SECONDS] [TARGET...]      (targets: fuzz_idx_raw fuzz_idx_gzip
#                                      fuzz_safetensors fuzz_optim_state; default all)
# Environment: CC (default clang), LAGRAD_FUZZ_BUILD (default build-fuzz), FUZZ_JOBS (build
# parallelism, default 2). The corpus each run grows is kept in build-fuzz/corpus/TARGET,
# so later runs start from it; the checked-in seeds and the regression inputs are read too.
set -eu
secs=${1:-60}
[ $# -gt 0 ] && shift
root=$(cd "$(dirname "$0")/.." && pwd)
build=${LAGRAD_FUZZ_BUILD:-$root/build-fuzz}
targets=${*:-fuzz_idx_raw fuzz_idx_gzip fuzz_safetensors fuzz_optim_state}
cc=${CC:-clang}
command -v "$cc" > /dev/null || { echo "fuzz.sh: $cc not found (apt-get install clang)"; exit 1; }

flags="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined"
flags="$flags -fno-omit-frame-pointer -g"
cmake -S "$root/tests/fuzz" -B "$build" -DCMAKE_C_COMPILER="$cc" \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_FLAGS="$flags" > "$build.configure.log" 2>&1 ||
  { cat "$build.configure.log"; exit 1; }
rm -f "$build.configure.log"
# shellcheck disable=SC2086
cmake --build "$build" -j "${FUZZ_JOBS:-2}" --target $targets

fz="$root/tests/fuzz"
failed=""
for t in $targets; do
  case $t in
    fuzz_idx_raw) dict=idx.dict; extra="$fz/seeds/idx_raw $fz/regress/idx" ;;
    fuzz_idx_gzip) dict=idx.dict; extra="$fz/seeds/idx_gzip $fz/regress/idx_gzip" ;;
    fuzz_safetensors) dict=safetensors.dict; extra="$fz/seeds/safetensors $fz/regress/safetensors" ;;
    fuzz_optim_state) dict=safetensors.dict; extra="$fz/seeds/optim_state $fz/regress/optim_state" ;;
    *) echo "fuzz.sh: unknown target $t"; exit 1 ;;
  esac
  mkdir -p "$build/corpus/$t" "$build/artifacts"
  log="$build/$t.log"
  # -malloc_limit_mb: no single malloc over 512 MiB (inputs are at most 64 KiB, so the
  # library's own, tighter cap in fuzz_util.h trips long before); -rss_limit_mb likewise.
  # shellcheck disable=SC2086
  if ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 \
     UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
     "$build/$t" -max_total_time="$secs" -max_len=65536 -rss_limit_mb=2048 \
       -malloc_limit_mb=512 -timeout=10 -dict="$fz/$dict" -print_final_stats=1 \
       -artifact_prefix="$build/artifacts/$t-" "$build/corpus/$t" $extra > "$log" 2>&1; then
    status=ok
  else
    status=FAILED
    failed="$failed $t"
    tail -n 60 "$log"
  fi
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
  corpus=$(find "$build/corpus/$t" -type f | wc -l)
  echo "$t: $status, ${execs:-?} executions (${rate:-?}/s, limit ${secs} s), corpus $corpus files (log: $log)"
done
if [ -n "$failed" ]; then
  echo "fuzz.sh: crashes in$failed; inputs in $build/artifacts/"
  exit 1
fi
