#!/usr/bin/env bash
# Builds the libFuzzer harnesses (fuzz/) in build-fuzz/ with clang and runs
# each on a working copy of its seed corpus.
#   scripts/fuzz.sh                       every target, 60 s each
#   scripts/fuzz.sh idx png --seconds 600
#   scripts/fuzz.sh --keep-going          go on after a finding (libFuzzer's -fork=1), to collect several
#   scripts/fuzz.sh --replay              each target once over its seeds and fuzz/regressions/<target>/
#   scripts/fuzz.sh model_file -- -jobs=2 more libFuzzer options after --
# Targets: idx model_file safetensors png run_folder. New inputs go to
# build-fuzz/corpus/<target>/ (kept between runs), crash-/timeout-/oom-/leak-
# files to build-fuzz/findings/<target>/, the log to build-fuzz/logs/<target>.log.
# A finding is a crash, a sanitizer report, an exception other than
# mnistlab::Error, more than 512 MB of memory or 10 s on one input.
# Exit status 1 when any target left a finding (or a replayed file fails).
set -euo pipefail
cd "$(dirname "$0")/.."

all_targets=(idx model_file safetensors png run_folder)
targets=()
seconds=60
replay=0
keep_going=0
extra=()
while (($#)); do
  case "$1" in
    --seconds) seconds="$2"; shift 2 ;;
    --seconds=*) seconds="${1#*=}"; shift ;;
    --replay) replay=1; shift ;;
    --keep-going) keep_going=1; shift ;;
    --) shift; extra=("$@"); break ;;
    -h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "fuzz.sh: unknown option $1" >&2; exit 2 ;;
    *)
      [[ " ${all_targets[*]} " == *" $1 "* ]] || { echo "fuzz.sh: unknown target '$1' (${all_targets[*]})" >&2; exit 2; }
      targets+=("$1"); shift ;;
  esac
done
((${#targets[@]})) || targets=("${all_targets[@]}")

build=build-fuzz
if [[ ! -f $build/CMakeCache.txt ]]; then
  cxx=${CXX:-}
  if [[ -z $cxx ]]; then
    for c in clang++ clang++-14 clang++-15 clang++-16; do command -v $c >/dev/null && { cxx=$c; break; }; done
  fi
  [[ -n $cxx ]] || { echo "fuzz.sh: needs clang (scripts/install-packages.sh --dev-tools)" >&2; exit 2; }
  generator=()
  command -v ninja >/dev/null && generator=(-G Ninja)
  CXX=$cxx cmake -S . -B $build "${generator[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DMNISTLAB_FUZZ=ON -DMNISTLAB_TESTS=OFF -DMNISTLAB_BENCH=OFF >/dev/null
fi
cmake --build $build --parallel "${JOBS:-$(nproc)}" --target "${targets[@]/#/fuzz_}"

# Sanitizer reports stop the run; leaks count; symbolized stacks.
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
options=(-rss_limit_mb=512 -timeout=10 -print_final_stats=1)

status=0
for t in "${targets[@]}"; do
  bin=$build/fuzz/fuzz_$t
  dict=()
  [[ -f fuzz/dict/$t.dict ]] && dict=(-dict=fuzz/dict/$t.dict)
  # Seeds too big to commit or to mutate (fuzz/make_corpus.py): a 200,000-key
  # header, 14 MB. Each runs once under the same limits, before fuzzing and in
  # --replay: libFuzzer's mutated copies of it would pass 512 MB and take
  # seconds per execution.
  made=()
  if [[ $t == safetensors ]]; then
    mkdir -p $build/seeds/$t
    [[ -f $build/seeds/$t/many-keys-200000 ]] || python3 fuzz/make_corpus.py --many-keys $build/seeds/$t
    made=($build/seeds/$t/*)
  fi
  if ((replay)); then
    files=(fuzz/corpus/$t/* "${made[@]}")
    [[ -d fuzz/regressions/$t ]] && files+=(fuzz/regressions/$t/*)
    failed=0
    for f in "${files[@]}"; do
      [[ -f $f ]] || continue
      if ! "$bin" "${options[@]}" "$f" >"$build/replay.log" 2>&1; then
        echo "$t: FAILS on $f"
        grep -ohE "[^ ]+:[0-9]+:[0-9]+: runtime error: .*|ERROR: [A-Za-z]+Sanitizer: [^(]*|FINDING: .*|ERROR: libFuzzer: .*|==[0-9]+== ERROR: libFuzzer: .*" \
          "$build/replay.log" | sort -u | head -3 | sed 's/^/    /' || true
        failed=1
      fi
    done
    ((failed)) && status=1 || echo "$t: ${#files[@]} files, all pass"
    continue
  fi

  corpus=$build/corpus/$t findings=$build/findings/$t log=$build/logs/$t.log
  mkdir -p "$corpus" "$findings" "$build/logs"
  cp -n fuzz/corpus/$t/* "$corpus"/  # seeds join the working corpus; the repo's copy is never written
  for f in "${made[@]}"; do
    "$bin" "${options[@]}" -artifact_prefix="$findings/" "$f" >"$build/logs/$t.made.log" 2>&1 ||
      { echo "$t: FAILS on $f (log $build/logs/$t.made.log)"; status=1; }
  done
  marker=$(mktemp)
  echo "== $t: ${seconds} s (log $log)"
  going=()
  ((keep_going)) && going=(-fork=1 -ignore_crashes=1 -ignore_ooms=1 -ignore_timeouts=1)
  set +e
  "$bin" "${options[@]}" "${going[@]}" "${dict[@]}" -max_total_time="$seconds" -artifact_prefix="$findings/" \
    "${extra[@]}" "$corpus" >"$log" 2>&1
  rc=$?
  set -e
  # libFuzzer's last status line: "#N ... cov: C ft: F corp: K/SIZE ..." ("#N: cov: ... corp: K" with -fork)
  last=$(grep -E '^#[0-9]+' "$log" | tail -1)
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  [[ -n $execs ]] || execs=$(sed -n 's/^#\([0-9]*\).*/\1/p' <<<"$last")
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
  corp=$(sed -n 's/.* corp: \([0-9/]*[a-zA-Z]*\).*/\1/p' <<<"$last")
  rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$log" | tail -1)
  echo "$t: ${execs:-?} executions, cov ${cov:-?}, ft ${ft:-?}, corpus ${corp:-?}${rss:+, peak RSS $rss MB}, exit $rc"
  new=$(find "$findings" -type f -newer "$marker" \( -name 'crash-*' -o -name 'timeout-*' -o -name 'oom-*' \
        -o -name 'leak-*' \) | sort)
  rm -f "$marker"
  if [[ -n $new || $rc -ne 0 ]]; then
    status=1
    grep -ohE "[^ ]+:[0-9]+:[0-9]+: runtime error: .*|ERROR: [A-Za-z]+Sanitizer: [^(]*|FINDING: .*|ERROR: libFuzzer: .*|==[0-9]+== ERROR: libFuzzer: .*" \
      "$log" | sort | uniq -c | sort -rn | head -6 | sed 's/^ */    /' || true
    for f in $new; do echo "    finding: $f ($(stat -c %s "$f") bytes; reproduce: $bin $f)"; done
  fi
done
exit $status
