#!/bin/sh
# run.sh: build and run the libFuzzer harnesses (clang, libclang-rt-14-dev).
#
#   run.sh build SRC DIR          configure DIR as a fuzzing build of SRC and build the harnesses
#   run.sh run DIR NAME SECONDS   fuzz NAME for SECONDS on its corpus (tests/fuzz/corpus/NAME)
#   run.sh all SRC DIR SECONDS    build, then fuzz every tests/fuzz/fuzz_NAME.c in turn
#
# New inputs go to DIR/corpus/NAME, crashes to DIR/artifacts/NAME-*; the
# committed seeds are only read. Exit 77 (skipped) when clang cannot build
# a fuzzer here, with the reason on stdout.
set -eu
cmd=$1
case "$cmd" in
build)
  src=$2 dir=$3
  command -v clang >/dev/null 2>&1 || { echo "skipped: clang is not installed"; exit 77; }
  probe=$(mktemp -d)
  printf 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { (void)d; (void)n; return 0; }\n' > "$probe/p.c"
  if ! clang -fsanitize=fuzzer "$probe/p.c" -o "$probe/p" >/dev/null 2>&1; then
    rm -rf "$probe"
    echo "skipped: clang cannot link -fsanitize=fuzzer (install libclang-rt-14-dev)"
    exit 77
  fi
  rm -rf "$probe"
  # One configure at a time: ctest may start several fuzz tests at once.
  mkdir -p "$dir"
  exec 9>"$dir/.lock"
  flock 9
  if [ ! -f "$dir/CMakeCache.txt" ]; then
    cmake -S "$src" -B "$dir" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug \
      -DPODGYM_FUZZ=ON -DPODGYM_WERROR=ON > "$dir/configure.log" 2>&1 ||
      { cat "$dir/configure.log"; exit 1; }
  fi
  cmake --build "$dir" --target fuzzers -j "$(nproc)" > "$dir/build.log" 2>&1 ||
    { tail -50 "$dir/build.log"; exit 1; }
  echo "fuzz: harnesses built in $dir"
  ;;
run)
  dir=$2 name=$3 secs=$4
  bin="$dir/tests/fuzz_$name"
  [ -x "$bin" ] || { echo "skipped: $bin was not built (clang or libFuzzer missing)"; exit 77; }
  seeds=$(dirname "$0")/corpus/$name
  mkdir -p "$dir/corpus/$name" "$dir/artifacts"
  # ASan on, leaks on; libFuzzer's own timeout catches a hang (an input
  # taking over 10 s), its rss limit a runaway allocation.
  # The HTTP harness serves from libmicrohttpd's threads: libFuzzer's check
  # for a leak after each input would race a connection thread that has
  # answered but not yet run its thread-local destructors. LeakSanitizer
  # still checks at exit, and the e2e suites run under it (make asan-test).
  leaks=1
  [ "$name" = http ] && leaks=0
  rm -rf "$dir/data-$name"
  mkdir -p "$dir/data-$name"
  PODGYM_FUZZ_DATA="$dir/data-$name" ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=8192 -print_final_stats=1 -detect_leaks=$leaks \
      -artifact_prefix="$dir/artifacts/$name-" "$dir/corpus/$name" "$seeds" 2>"$dir/fuzz-$name.log" ||
    { tail -60 "$dir/fuzz-$name.log"; echo "fuzz: $name found a failure: $dir/artifacts/"; exit 1; }
  runs=$(sed -n 's/^Done \([0-9]*\) runs in \([0-9]*\) second.*/\1 runs in \2 s/p' "$dir/fuzz-$name.log")
  echo "fuzz: $name: ${runs:-?}, no failure"
  ;;
all)
  src=$2 dir=$3 secs=$4
  "$0" build "$src" "$dir"
  for f in "$src"/tests/fuzz/fuzz_*.c; do
    name=$(basename "$f" .c)
    "$0" run "$dir" "${name#fuzz_}" "$secs"
  done
  ;;
*)
  echo "usage: run.sh build SRC DIR | run DIR NAME SECONDS | all SRC DIR SECONDS" >&2; exit 2 ;;
esac
