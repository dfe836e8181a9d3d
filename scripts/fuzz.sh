#!/usr/bin/env bash
# Build berth's libFuzzer targets (tests/fuzz/fuzz_<name>.cc) with clang into build-fuzz/ and
# run each over its corpus, tests/fuzz/corpus/<name>/.
#
#   scripts/fuzz.sh [replay]        run every corpus input once (regression; `make test`)
#   scripts/fuzz.sh run [TARGET..]  fuzz each target for FUZZ_SECONDS (default 60; `make fuzz`)
#
# `run` writes new inputs to build-fuzz/corpus/<name>/ (copy the interesting ones into
# tests/fuzz/corpus/<name>/ by hand) and crashes to build-fuzz/artifacts/<name>/.
# Environment: FUZZ_BUILD_DIR (build-fuzz), FUZZ_SECONDS (60), FUZZ_JOBS (1), CC/CXX (clang).
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo_root"

mode=${1:-replay}
[[ $# -gt 0 ]] && shift
case "$mode" in
  replay|run) ;;
  *) echo "usage: $0 [replay | run [fuzz_target ...]]" >&2; exit 2 ;;
esac

FUZZ_BUILD_DIR=${FUZZ_BUILD_DIR:-build-fuzz}
FUZZ_SECONDS=${FUZZ_SECONDS:-60}
FUZZ_JOBS=${FUZZ_JOBS:-1}
CC=${FUZZ_CC:-clang}
CXX=${FUZZ_CXX:-clang++}

if ! command -v "$CXX" >/dev/null; then
  echo "fuzz: $CXX not found; skipping the fuzz targets (scripts/install-deps.sh installs clang)" >&2
  exit 0
fi

shopt -s nullglob
targets=()
if [[ $# -gt 0 ]]; then
  targets=("$@")
else
  for src in tests/fuzz/fuzz_*.cc; do
    targets+=("$(basename "$src" .cc)")
  done
fi
if [[ ${#targets[@]} -eq 0 ]]; then
  echo "fuzz: no fuzz targets in tests/fuzz/" >&2
  exit 0
fi

if [[ ! -f "$FUZZ_BUILD_DIR/build.ninja" ]]; then
  cmake -S . -B "$FUZZ_BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DBERTH_FUZZ=ON -DBERTH_TESTS=OFF -DCMAKE_C_COMPILER="$CC" -DCMAKE_CXX_COMPILER="$CXX"
fi
cmake --build "$FUZZ_BUILD_DIR" --target "${targets[@]}"

# LeakSanitizer needs ptrace-like access that some sandboxes forbid; it stays on by default.
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

failed=()
for target in "${targets[@]}"; do
  bin="$FUZZ_BUILD_DIR/bin/$target"
  name=${target#fuzz_}
  corpus="tests/fuzz/corpus/$name"
  if [[ ! -d "$corpus" ]]; then
    echo "fuzz: warning: $target has no corpus at $corpus/" >&2
    corpus_args=()
  else
    corpus_args=("$corpus")
  fi
  artifacts="$FUZZ_BUILD_DIR/artifacts/$name"
  mkdir -p "$artifacts"
  if [[ "$mode" == replay ]]; then
    # -runs=0: load (and so execute) every corpus input once, then stop. With no corpus,
    # libFuzzer runs the empty input.
    echo "fuzz: replay $target over ${corpus_args[*]:-(empty input)}" >&2
    if ! "$bin" -runs=0 -artifact_prefix="$artifacts/" "${corpus_args[@]}" \
        >"$artifacts/replay.log" 2>&1; then
      tail -n 40 "$artifacts/replay.log" >&2
      failed+=("$target")
    fi
  else
    work="$FUZZ_BUILD_DIR/corpus/$name"
    mkdir -p "$work"
    echo "fuzz: run $target for ${FUZZ_SECONDS}s (new inputs in $work/)" >&2
    parallel=()
    [[ "$FUZZ_JOBS" -gt 1 ]] && parallel=(-fork="$FUZZ_JOBS")
    if ! "$bin" -max_total_time="$FUZZ_SECONDS" -timeout=25 "${parallel[@]}" \
        -print_final_stats=1 -artifact_prefix="$artifacts/" "$work" "${corpus_args[@]}"; then
      failed+=("$target")
    fi
  fi
done

if [[ ${#failed[@]} -gt 0 ]]; then
  echo "fuzz: FAILED: ${failed[*]} (artifacts under $FUZZ_BUILD_DIR/artifacts/)" >&2
  exit 1
fi
echo "fuzz: ${#targets[@]} target(s) passed ($mode)" >&2
