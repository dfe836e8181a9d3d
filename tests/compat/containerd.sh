#!/usr/bin/env bash
# containerd with a private config (root, state, grpc/ttrpc addresses in a temp dir, the CRI
# plugin disabled); `ctr image import` of a locally built image; every task is run by the
# io.containerd.runc.v2 shim with `--runc-binary $BERTH_RUNTIME` (the shim's BinaryName
# option) and `--runc-root` in the temp dir. See README.md.
set -uo pipefail
ENGINE=containerd
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

CHECKS=(
  "daemon: starts" "image: ctr image import"
  "run --rm: output" "run --rm: exit code" "run --rm: container removed"
  "run -d: running" "run -d: runtime is \$BERTH_RUNTIME" "task ps"
  "task exec: output" "task exec: exit code" "task exec: in the container's pid namespace"
  "task exec: missing binary fails" "run -t: tty" "task exec -t: tty"
  "task pause: frozen" "task resume: thawed and running"
  "task kill: SIGTERM reaches the container" "task kill -s SIGKILL: exit 137"
  "task kill --all: exec processes killed" "task delete: exit status and runtime state removed"
  "resources: --memory-limit 64m --cpus 0.5"
)

if ! why=$(need_runtime); then skip_all "$why" "${CHECKS[@]}"; finish; exit; fi
for tool in containerd ctr containerd-shim-runc-v2; do
  if ! command -v "$tool" >/dev/null; then
    skip_all "$tool not installed (apt-get install containerd; scripts/install-deps.sh)" "${CHECKS[@]}"
    finish
    exit
  fi
done

make_workdir containerd
NS=$(basename "$WORK")   # the ctr namespace, and so the cgroup parent of every task: /$NS/<id>
CONTAINERD_PID=""
cleanup() {
  if [[ -n "$CONTAINERD_PID" ]] && kill -0 "$CONTAINERD_PID" 2>/dev/null; then
    local c
    for c in $(timeout 20 "${CTR[@]}" containers ls -q 2>/dev/null); do
      timeout -k 5 30 "${CTR[@]}" task kill -a -s SIGKILL "$c" >/dev/null 2>&1
      timeout -k 5 30 "${CTR[@]}" task delete -f "$c" >/dev/null 2>&1
      timeout -k 5 30 "${CTR[@]}" containers delete "$c" >/dev/null 2>&1
    done
    kill -TERM "$CONTAINERD_PID" 2>/dev/null
    wait_for 20 bash -c "! kill -0 $CONTAINERD_PID" || kill -KILL "$CONTAINERD_PID" 2>/dev/null
    wait "$CONTAINERD_PID" 2>/dev/null
  fi
  kill_strays
  remove_cgroup_tree "$NS"
  if [[ "${COMPAT_KEEP:-0}" != 1 && $FAILED -gt 0 && -f "$WORK/containerd.log" ]]; then
    echo "# containerd: errors in containerd.log:"
    grep -E 'level=error' "$WORK/containerd.log" | tail -n 10 | sed 's/^/#   /'
  fi
  cleanup_workdir
}
trap cleanup EXIT

cat >"$WORK/config.toml" <<EOF
version = 2
root = "$WORK/root"
state = "$WORK/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$WORK/containerd.sock"
[ttrpc]
  address = "$WORK/containerd.sock.ttrpc"
[debug]
  level = "info"
[plugins]
  [plugins."io.containerd.internal.v1.opt"]
    path = "$WORK/opt"
EOF

CTR=(ctr --address "$WORK/containerd.sock" --namespace "$NS")
RUNC_ROOT=$WORK/runc
# Options of every `ctr run`: the runc shim runs $BERTH_RUNTIME with --root $RUNC_ROOT/$NS.
RUN_OPTS=(--runtime io.containerd.runc.v2 --runc-binary "$BERTH_RUNTIME" --runc-root "$RUNC_ROOT")
IMG=$IMAGE_REF

ctr_() { run_cmd "${CTR[@]}" "$@"; }

containerd --config "$WORK/config.toml" >"$WORK/containerd.log" 2>&1 </dev/null &
CONTAINERD_PID=$!
started=0
for ((i = 0; i < 100; i++)); do
  kill -0 "$CONTAINERD_PID" 2>/dev/null || break
  if timeout 5 "${CTR[@]}" version >/dev/null 2>&1; then started=1; break; fi
  sleep 0.2
done
if [[ $started -ne 1 ]]; then
  skip "daemon: starts" "containerd exited or did not answer within 20s (its log below)"
  tail -n 15 "$WORK/containerd.log" 2>/dev/null | sed 's/^/#   /'
  skip_all "containerd did not start" "${CHECKS[@]:1}"
  finish
  exit
fi
ok "daemon: starts"
note "runtime $BERTH_RUNTIME; containerd $(containerd --version 2>/dev/null | awk '{print $3}'); work dir $WORK"

if ! build_image_archive "$WORK" >/dev/null 2>&1; then
  skip_all "could not build the test image archive" "${CHECKS[@]:1}"
  finish
  exit
fi
ctr_ image import "$WORK/image.tar"
if [[ $RC -ne 0 ]]; then
  not_ok "image: ctr image import" "exit $RC"
  skip_all "containerd could not import the test image" "${CHECKS[@]:2}"
  finish
  exit
fi
ok "image: ctr image import"

task_status() {
  "${CTR[@]}" task ls 2>/dev/null | awk -v id="$1" '$1 == id { print $3 }'
}
task_pid() {
  "${CTR[@]}" task ls 2>/dev/null | awk -v id="$1" '$1 == id { print $2 }'
}
status_is() { [[ "$(task_status "$1")" == "$2" ]]; }

# runtime_diag ID: the runtime's --log file (log.json in the bundle the runc shim made).
runtime_diag() {
  local log=$WORK/state/io.containerd.runtime.v2.task/$NS/$1/log.json
  [[ -s "$log" ]] && tail -n 5 "$log" | sed 's/^/#   runtime log: /'
  return 0
}

# --- run --rm ---------------------------------------------------------------------------------
ctr_ run --rm "${RUN_OPTS[@]}" "$IMG" c-rm echo hello-from-berth
rm_ran=0
if [[ $RC -eq 0 ]] && grep -qx hello-from-berth <<<"$OUT"; then ok "run --rm: output"; rm_ran=1
else not_ok "run --rm: output" "exit $RC, expected 0 and the line hello-from-berth"; fi

ctr_ run --rm "${RUN_OPTS[@]}" "$IMG" c-rm-exit sh -c 'exit 7'
if [[ $RC -eq 7 ]]; then ok "run --rm: exit code"
else not_ok "run --rm: exit code" "exit $RC, expected 7"; fi

ctr_ containers ls -q
if [[ $rm_ran -eq 0 ]]; then skip "run --rm: container removed" "the run --rm failed (counted above)"
elif [[ $RC -eq 0 ]] && ! grep -qx 'c-rm' <<<"$OUT"; then ok "run --rm: container removed"
else not_ok "run --rm: container removed" "c-rm still listed (exit $RC)"; fi

# --- run -d, exec, ps -------------------------------------------------------------------------
ctr_ run -d "${RUN_OPTS[@]}" "$IMG" c-d sleep 600
running=0
if [[ $RC -eq 0 ]] && wait_for 10 status_is c-d RUNNING; then ok "run -d: running"; running=1
else not_ok "run -d: running" "exit $RC, status '$(task_status c-d)'"; runtime_diag c-d; fi

st=$(timeout 20 "$BERTH_RUNTIME" --root "$RUNC_ROOT/$NS" state c-d 2>&1)
if [[ "$(jq -r .status <<<"$st" 2>/dev/null)" == running ]]; then ok "run -d: runtime is \$BERTH_RUNTIME"
else OUT=$st; not_ok "run -d: runtime is \$BERTH_RUNTIME" "'$BERTH_RUNTIME --root $RUNC_ROOT/$NS state c-d' does not say running"; fi

pid=$(task_pid c-d)
ctr_ task ps c-d
if [[ $RC -eq 0 && -n "$pid" ]] && awk 'NR > 1 { print $1 }' <<<"$OUT" | grep -qx "$pid"; then ok "task ps"
else not_ok "task ps" "exit $RC, expected the task's pid '$pid' listed"; fi

ctr_ task exec --exec-id e-out c-d sh -c 'echo exec-$((6*7))'
if [[ $RC -eq 0 ]] && grep -qx exec-42 <<<"$OUT"; then ok "task exec: output"
else not_ok "task exec: output" "exit $RC, expected 0 and the line exec-42"; runtime_diag c-d; fi

ctr_ task exec --exec-id e-exit c-d sh -c 'exit 5'
if [[ $RC -eq 5 ]]; then ok "task exec: exit code"
else not_ok "task exec: exit code" "exit $RC, expected 5"; fi

ctr_ task exec --exec-id e-ns c-d cat /proc/1/comm
if [[ $RC -eq 0 ]] && grep -qx sleep <<<"$OUT"; then ok "task exec: in the container's pid namespace"
else not_ok "task exec: in the container's pid namespace" "exit $RC, expected pid 1 to be sleep"; fi

ctr_ task exec --exec-id e-missing c-d /no/such/binary
if [[ $RC -ne 0 ]] && grep -q 'no such file or directory\|not found' <<<"$OUT"; then ok "task exec: missing binary fails"
else not_ok "task exec: missing binary fails" "exit $RC, expected a failure that names the missing file"; fi

# --- terminals --------------------------------------------------------------------------------
c=""
for a in "${CTR[@]}"; do c+="$(printf '%q' "$a") "; done
r=""
for a in "${RUN_OPTS[@]}"; do r+="$(printf '%q' "$a") "; done
run_tty "$c run --rm -t $r $IMG c-tty sh -c 'tty; echo tty-ok; exit 3'"
if [[ $RC -eq 3 ]] && grep -qx '/dev/pts/[0-9]*' <<<"$OUT" && grep -qx tty-ok <<<"$OUT"; then ok "run -t: tty"
else not_ok "run -t: tty" "exit $RC, expected 3 and a /dev/pts/N line"; runtime_diag c-tty; fi

run_tty "$c task exec -t --exec-id e-tty c-d sh -c 'tty; echo exec-tty-ok'"
if [[ $RC -eq 0 ]] && grep -qx '/dev/pts/[0-9]*' <<<"$OUT" && grep -qx exec-tty-ok <<<"$OUT"; then ok "task exec -t: tty"
else not_ok "task exec -t: tty" "exit $RC, expected 0 and a /dev/pts/N line"; fi

# --- pause / resume ---------------------------------------------------------------------------
if [[ $running -eq 1 ]]; then
  ctr_ task pause c-d
  got="$(task_status c-d) $(cgroup_frozen "$pid")"
  if [[ $RC -eq 0 && ( "$got" == "PAUSED FROZEN" || "$got" == "PAUSED 1" ) ]]; then ok "task pause: frozen"
  else not_ok "task pause: frozen" "pause exit $RC, status and freezer '$got', expected 'PAUSED FROZEN'"; runtime_diag c-d; fi

  ctr_ task resume c-d
  got="$(task_status c-d) $(cgroup_frozen "$pid")"
  resume_rc=$RC
  ctr_ task exec --exec-id e-after c-d echo after-resume
  if [[ $resume_rc -eq 0 && $RC -eq 0 && ( "$got" == "RUNNING THAWED" || "$got" == "RUNNING 0" ) ]] && grep -qx after-resume <<<"$OUT"; then
    ok "task resume: thawed and running"
  else not_ok "task resume: thawed and running" "resume exit $resume_rc, status and freezer '$got', exec after it exit $RC"; runtime_diag c-d; fi
else
  skip "task pause: frozen" "task c-d is not running (counted above)"
  skip "task resume: thawed and running" "task c-d is not running (counted above)"
fi

# --- kill -------------------------------------------------------------------------------------
# A foreground `ctr run` whose status is the container's: SIGTERM from `ctr task kill` must reach
# the shell's trap (exit 7); SIGKILL gives 137.
kill_case() {   # kill_case ID SIGNAL-ARGS... ; sets RC to the foreground run's status
  local id=$1
  shift
  local out=$WORK/$id.out
  timeout -k 5 "$CMD_TIMEOUT" "${CTR[@]}" run --rm "${RUN_OPTS[@]}" "$IMG" "$id" \
    sh -c 'trap "exit 7" TERM; echo ready; while :; do sleep 0.2; done' >"$out" 2>&1 &
  local fg=$!
  wait_for 15 grep -qx ready "$out"
  run_cmd "${CTR[@]}" task kill "$@" "$id"
  local kill_rc=$RC kill_out=$OUT
  wait "$fg"
  RC=$?
  OUT="kill exit $kill_rc: $kill_out
$(cat "$out")"
}
kill_case c-term
if [[ $RC -eq 7 ]]; then ok "task kill: SIGTERM reaches the container"
else not_ok "task kill: SIGTERM reaches the container" "the run exited $RC, expected 7"; fi

kill_case c-kill -s SIGKILL
if [[ $RC -eq 137 ]]; then ok "task kill -s SIGKILL: exit 137"
else not_ok "task kill -s SIGKILL: exit 137" "the run exited $RC, expected 137"; fi

if [[ $running -eq 1 ]]; then
  # SIGTERM to every process: the exec'd sleep dies, init (sleep as pid 1, no handler) ignores
  # it. Without --all only init would get the signal and the exec'd sleep would live on.
  ctr_ task exec -d --exec-id e-bg c-d sleep 500
  bg=""
  for ((i = 0; i < 50; i++)); do
    bg=$("${CTR[@]}" task ps c-d 2>/dev/null | awk -v init="$pid" 'NR > 1 && $1 != init { print $1; exit }')
    [[ -n "$bg" ]] && break
    sleep 0.2
  done
  ctr_ task kill --all -s SIGTERM c-d
  kill_rc=$RC
  if [[ -z "$bg" ]]; then
    not_ok "task kill --all: exec processes killed" "the exec'd 'sleep 500' did not show up in task ps"
  elif [[ $kill_rc -eq 0 ]] && wait_for 10 bash -c "! kill -0 $bg" && status_is c-d RUNNING; then
    ok "task kill --all: exec processes killed"
  else not_ok "task kill --all: exec processes killed" "kill exit $kill_rc, exec'd sleep pid $bg $(kill -0 "$bg" 2>/dev/null && echo alive || echo gone), task '$(task_status c-d)' (expected RUNNING: pid 1 ignores SIGTERM)"; fi

  ctr_ task kill -s SIGKILL c-d
  wait_for 10 status_is c-d STOPPED
  ctr_ task delete c-d
  st=$(timeout 20 "$BERTH_RUNTIME" --root "$RUNC_ROOT/$NS" state c-d 2>&1)
  st_rc=$?
  if [[ $RC -eq 0 ]] && grep -q 'exit code 137' <<<"$OUT" && [[ $st_rc -ne 0 && ! -e "$RUNC_ROOT/$NS/c-d" ]]; then
    ok "task delete: exit status and runtime state removed"
  else not_ok "task delete: exit status and runtime state removed" "delete exit $RC, expected 'exit code 137' reported and no runtime state (state exit $st_rc)"; fi
  ctr_ containers delete c-d
else
  skip "task kill --all: exec processes killed" "task c-d is not running (counted above)"
  skip "task delete: exit status and runtime state removed" "task c-d is not running (counted above)"
fi

# --- resources --------------------------------------------------------------------------------
ctr_ run -d "${RUN_OPTS[@]}" --memory-limit 67108864 --cpus 0.5 "$IMG" c-res sleep 600
if [[ $RC -eq 0 ]] && wait_for 10 status_is c-res RUNNING; then
  pid=$(task_pid c-res)
  got=$(cgroup_limits "$pid")
  got=${got/ pids=* cpu=/ cpu=}
  if [[ "$got" == "$EXPECTED_LIMITS_MEM_CPU" ]]; then ok "resources: --memory-limit 64m --cpus 0.5"
  else OUT=$(cat "/proc/$pid/cgroup" 2>&1); not_ok "resources: --memory-limit 64m --cpus 0.5" "cgroup has '$got', expected '$EXPECTED_LIMITS_MEM_CPU'"; fi
  ctr_ task kill -s SIGKILL c-res
  wait_for 10 status_is c-res STOPPED
  ctr_ task delete c-res
else
  not_ok "resources: --memory-limit 64m --cpus 0.5" "run exit $RC, status '$(task_status c-res)'"
  runtime_diag c-res
fi
ctr_ containers delete c-res

finish
