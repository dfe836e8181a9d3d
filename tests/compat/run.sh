#!/usr/bin/env bash
# Runs the compatibility scripts — engines using berth-runtime as their OCI runtime (podman,
# dockerd, containerd) and clients using berthd (berthd: the docker CLI; docker-py) — and prints, last, exactly: "N passed, M failed, K skipped" (individual checks).
#
#   tests/compat/run.sh                  # all engines
#   tests/compat/run.sh podman dockerd   # some of them
#
# Environment: BERTH_RUNTIME (default <repo>/build/bin/berth-runtime; /usr/sbin/runc validates
# the scripts themselves), COMPAT_ENGINE_TIMEOUT (seconds per engine script, default 300),
# COMPAT_CMD_TIMEOUT, COMPAT_KEEP (see lib.sh). Needs root.
# Exit status: 1 if a check failed, 77 if every check was skipped, else 0.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo_root=$(cd "$here/../.." && pwd)
export BERTH_RUNTIME=${BERTH_RUNTIME:-$repo_root/build/bin/berth-runtime}
ENGINE_TIMEOUT=${COMPAT_ENGINE_TIMEOUT:-300}

engines=("$@")
[[ ${#engines[@]} -gt 0 ]] || engines=(podman dockerd containerd berthd docker-py)

passed=0 failed=0 skipped=0
start=$(date +%s)
echo "# compat: BERTH_RUNTIME=$BERTH_RUNTIME"

if [[ $(id -u) -ne 0 ]]; then
  for e in "${engines[@]}"; do echo "skip - $e: all checks: needs root"; done
  echo "0 passed, 0 failed, ${#engines[@]} skipped"
  exit 77
fi

for e in "${engines[@]}"; do
  script=$here/$e.sh
  if [[ ! -f "$script" ]]; then
    echo "not ok - $e: no such engine script $script"
    failed=$((failed + 1))
    continue
  fi
  log=$(mktemp)
  t0=$(date +%s)
  # The script cleans up after itself on TERM (trap EXIT); KILL only if it hangs in that too.
  timeout -k 30 "$ENGINE_TIMEOUT" bash "$script" 2>&1 </dev/null | tee "$log"
  status=${PIPESTATUS[0]}
  p=$(grep -c '^ok - ' "$log")
  f=$(grep -c '^not ok - ' "$log")
  s=$(grep -c '^skip - ' "$log")
  if [[ $status -eq 124 || $status -eq 137 ]]; then
    echo "not ok - $e: the script timed out after ${ENGINE_TIMEOUT}s"
    f=$((f + 1))
  elif [[ $status -ne 0 && $f -eq 0 ]]; then
    echo "not ok - $e: the script exited $status without a failed check"
    f=$((f + 1))
  elif [[ $((p + f + s)) -eq 0 ]]; then
    echo "not ok - $e: the script reported no check"
    f=$((f + 1))
  fi
  echo "# $e: finished in $(($(date +%s) - t0))s"
  passed=$((passed + p))
  failed=$((failed + f))
  skipped=$((skipped + s))
  rm -f "$log"
done

echo "# compat: $(($(date +%s) - start))s"
echo "$passed passed, $failed failed, $skipped skipped"
[[ $failed -eq 0 ]] || exit 1
# Nothing ran at all (no engine, no runtime): 77, which ctest reports as skipped.
[[ $passed -gt 0 ]] || exit 77
exit 0
