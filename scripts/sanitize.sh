#!/usr/bin/env bash
# Builds the whole test suite with AddressSanitizer and UndefinedBehaviorSanitizer
# (float-cast-overflow too; every report stops the process) in build-sanitize/
# and runs all of ctest there: the GoogleTest suite, and the mnistlab command
# that the CLI tests and tests/reference/state_dict_both_ways.py run, which is
# build-sanitize's own sanitized binary.
#   scripts/sanitize.sh                  with GCC (g++)
#   CXX=clang++ scripts/sanitize.sh      with clang (use a fresh build-sanitize)
#   scripts/sanitize.sh -R Cli           more ctest options after the script's own
# Every sanitizer report, from any process of the run, is also written to
# build-sanitize/sanitizer-logs/; the script lists them and fails when there is one.
set -euo pipefail
cd "$(dirname "$0")/.."
build=build-sanitize
flags="-fsanitize=address,undefined -fsanitize=float-cast-overflow -fno-sanitize-recover=all -fno-omit-frame-pointer"

if [[ ! -f $build/CMakeCache.txt ]]; then
  generator=()
  command -v ninja >/dev/null && generator=(-G Ninja)
  cmake -S . -B $build "${generator[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMNISTLAB_BENCH=OFF \
    -DCMAKE_CXX_FLAGS="$flags" -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" >/dev/null
fi
cmake --build $build --parallel "${JOBS:-$(nproc)}"

logs=$PWD/$build/sanitizer-logs
rm -rf "$logs"
mkdir -p "$logs"
# exitcode 99: a CLI test that expects exit 1 for bad input must not pass on a sanitizer's exit.
export ASAN_OPTIONS="detect_leaks=1:check_initialization_order=1:strict_init_order=1:detect_stack_use_after_return=1:exitcode=99:log_path=$logs/asan:log_exe_name=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:exitcode=99:log_path=$logs/ubsan:log_exe_name=1"
set +e
(cd $build && ctest --output-on-failure --timeout 1800 -j "${JOBS:-$(nproc)}" "$@")
rc=$?
set -e
reports=$(find "$logs" -type f | sort)
if [[ -n $reports ]]; then
  echo "sanitizer reports:"
  for f in $reports; do
    echo "== $f"
    grep -E "ERROR:|runtime error|SUMMARY:|^    #[0-9] " "$f" | head -12
  done
  rc=1
fi
((rc == 0)) && echo "sanitize.sh: clean (ASan + UBSan + float-cast-overflow, every test passed)"
exit $rc
