#!/usr/bin/env bash
# berth-runtime against runc, crun and the kernel floor, side by side in one run.
#
#   bench/runtime.sh [--no-results]      (root; `make bench` builds first, then runs this)
#
# Measures, with hyperfine (medians), on one busybox bundle whose process is /bin/true:
#   run                  `R run` of /bin/true: create + start + wait + delete, as one command
#   create/start/delete  the same lifecycle as three commands, each timed alone, and as a
#                        cycle (`create && start && delete --force`, via sh; hyperfine
#                        subtracts the shell's own start-up)
#   peak RSS             /usr/bin/time -f %M of `R run` (the runtime and what it waits for)
# in two views:
#   unified  a private mount namespace with the cgroup2 hierarchy bound over /sys/fs/cgroup:
#            the only view crun 1.8 accepts on this hybrid host. All runtimes and the floor.
#   hybrid   the plain host (cgroup v1 controllers + cgroup2 at /sys/fs/cgroup/unified).
# On a pure cgroup v2 host there is one view, the host itself.
#
# Every timed run uses its own container id (hyperfine's {i} parameter: one benchmark per
# run, the first $WARMUP discarded) and each runtime its own --root in a tmpfs. The runtimes
# take turns: round i runs each of them once (hyperfine runs its commands in that order with
# --parameter-scan), so a machine that drifts over minutes, as VMs do, shifts all columns
# alike instead of whichever runtime happened to run then. A runtime that is missing, fails
# its check run, or fails during timing is reported as such (and the others are then timed
# one after the other).
# The results are printed and written to bench/RESULTS.md (newest run first).
#
# Environment:
#   RUNS (100) WARMUP (10) RSS_RUNS (5)    timed runs, discarded warm-up runs, RSS samples
#   BERTH (build/bin/berth-runtime) RUNC (runc) CRUN (crun)   runtime binaries
#   RUNTIMES ("berth runc crun floor")     which columns to measure
#   MEASURES ("run cycle create start delete rss")
#   FLOOR_SRC (/work/shared/bench/floor.c) compiled to the temp dir, never into the tree
#   SPEC_RUNTIME (runc)                    generator of the bundle's config.json
#   RESULTS (bench/RESULTS.md)  STEP_TIMEOUT (900 s per hyperfine call)
#   BENCH_NICE (-10)                       niceness of everything measured (less noise from
#                                          other work on the machine; 0 to turn off)
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
self="$repo_root/bench/runtime.sh"

RUNS=${RUNS:-100}
WARMUP=${WARMUP:-10}
RSS_RUNS=${RSS_RUNS:-5}
BERTH=${BERTH:-$repo_root/build/bin/berth-runtime}
RUNC=${RUNC:-runc}
CRUN=${CRUN:-crun}
RUNTIMES=${RUNTIMES:-berth runc crun floor}
MEASURES=${MEASURES:-run cycle create start delete rss}
FLOOR_SRC=${FLOOR_SRC:-/work/shared/bench/floor.c}
SPEC_RUNTIME=${SPEC_RUNTIME:-runc}
RESULTS=${RESULTS:-$repo_root/bench/RESULTS.md}
STEP_TIMEOUT=${STEP_TIMEOUT:-900}
BENCH_NICE=${BENCH_NICE:--10}
KEEP_RUNS_IN_RESULTS=10

log() { echo "bench: $*" >&2; }
die() { log "$*"; exit 1; }

# ---------------------------------------------------------------------------------------
# Inner part: measure every runtime in one view. Runs in this process (hybrid view) or in
# a private mount namespace (unified view). Appends to $BENCH_WORK/results.tsv:
#   view  measure  runtime  status(ok|failed|missing)  median_ms  p10_ms  p90_ms  note
# (rss: values in KiB)
# ---------------------------------------------------------------------------------------

record() {
  local IFS=$'\t'
  echo "$*" >>"$BENCH_WORK/results.tsv"
}

# One line, tab-free, for a note.
oneline() { tr '\t\n' '  ' | sed -e 's/  */ /g' -e 's/^ //' -e 's/ $//' | cut -c1-200; }

runtime_bin() {
  case "$1" in
    berth) echo "$BERTH" ;;
    runc) echo "$RUNC" ;;
    crun) echo "$CRUN" ;;
    floor) echo "$BENCH_WORK/floor" ;;
  esac
}

# stats JSON K N SKIP: "median p10 p90" in ms over the times of command K (0-based) of the N
# commands of an interleaved hyperfine run (one benchmark per command and {i}, in rounds),
# after each command's first SKIP runs.
stats() {
  jq -r --argjson k "$2" --argjson n "$3" --argjson skip "$4" '
    def q(p): sort | .[((length - 1) * p) | floor];
    def median: sort | if length % 2 == 1 then .[length / 2 | floor]
                       else (.[length / 2 - 1] + .[length / 2]) / 2 end;
    [.results | to_entries[] | select(.key % $n == $k) | .value.times[]]
    | .[$skip:] | map(. * 1000)
    | "\(median) \(q(0.1)) \(q(0.9))"' "$1"
}

# Force-delete whatever a runtime left in its --root; print how many there were.
sweep_root() {
  local bin=$1 root=$2 n=0 id
  [[ -d "$root" ]] || { echo 0; return; }
  for id in $(ls -A "$root" 2>/dev/null); do
    [[ -d "$root/$id" ]] || continue
    n=$((n + 1))
    timeout 30 "$bin" --root "$root" delete --force "$id" >/dev/null 2>&1 || true
  done
  echo "$n"
}

# measure VIEW MEASURE NAME: times the commands in IL_CMD (one per runtime in IL_RT, with
# --prepare IL_PREP[k] when IL_PREP is set, --cleanup IL_CLEANUP when set, -N unless
# IL_SHELL=1) in rounds: {i} = 1 .. WARMUP+RUNS, every runtime once per round, so that all of
# them meet the same machine (this kind of VM drifts by 20-50% over minutes). If the round
# run fails, each runtime is timed alone instead, so one failing runtime does not take the
# others' numbers with it.
measure() {
  local view=$1 measure=$2 name=$3 n=${#IL_RT[@]} k
  ((n > 0)) || return 0
  if measure_rounds "$view" "$measure" "$name" 0 "$n"; then return 0; fi
  log "[$view] $measure: the interleaved run failed; timing each runtime alone"
  for ((k = 0; k < n; k++)); do
    measure_rounds "$view" "$measure" "$name-${IL_RT[k]}" "$k" 1 || true
  done
}

# measure_rounds VIEW MEASURE NAME FROM COUNT: one hyperfine run of IL_*[FROM .. FROM+COUNT).
measure_rounds() {
  local view=$1 measure=$2 name=$3 from=$4 n=$5 k
  local json="$BENCH_WORK/json/$view-$name.json" err="$BENCH_WORK/logs/$view-$name.err"
  local args=()
  [[ "${IL_SHELL:-0}" == 1 ]] || args+=(-N)
  [[ -z "${IL_CLEANUP:-}" ]] || args+=(--cleanup "$IL_CLEANUP")
  if ((${#IL_PREP[@]})); then
    for ((k = from; k < from + n; k++)); do args+=(--prepare "${IL_PREP[k]}"); done
  fi
  args+=("${IL_CMD[@]:from:n}")
  local rc=0
  timeout "$STEP_TIMEOUT" hyperfine --style none --runs 1 --warmup 0 \
    --parameter-scan i 1 $((WARMUP + RUNS)) --export-json "$json" "${args[@]}" \
    </dev/null >/dev/null 2>"$err" || rc=$?
  if [[ $rc -ne 0 ]]; then
    if ((n == 1)); then
      local why
      why=$(grep -v -i warning "$err" | oneline)
      [[ $rc -ne 124 ]] || why="timed out after ${STEP_TIMEOUT}s"
      record "$view" "$measure" "${IL_RT[from]}" failed - - - "failed during timed runs: ${why:-exit $rc}"
      log "[$view] ${IL_RT[from]} $measure: FAILED ($why)"
    fi
    return 1
  fi
  local s
  for ((k = 0; k < n; k++)); do
    s=$(stats "$json" "$k" "$n" "$WARMUP")
    # shellcheck disable=SC2086
    record "$view" "$measure" "${IL_RT[from + k]}" ok $s ""
    log "[$view] ${IL_RT[from + k]} $measure: $(awk '{printf "%.2f ms", $1}' <<<"$s")"
  done
}

# check_runtime VIEW RT BIN ROOT: one `run` of the check bundle, which echoes a token from
# inside the container. Prints the reason on failure.
check_runtime() {
  local view=$1 rt=$2 bin=$3 root=$4 out err rc=0
  out="$BENCH_WORK/logs/check-$view-$rt.out"
  err="$BENCH_WORK/logs/check-$view-$rt.err"
  timeout 60 "$bin" --root "$root" run --bundle "$BENCH_WORK/check" "chk-$rt-${view:0:1}-$$" \
    </dev/null >"$out" 2>"$err" || rc=$?
  if [[ $rc -ne 0 ]]; then
    echo "check run exited $rc: $(oneline <"$err")"
    return 1
  fi
  if ! grep -qx "$BENCH_TOKEN" "$out"; then
    echo "check run exited 0 but nothing came from inside the container (not a working runtime yet?)"
    return 1
  fi
  local left
  left=$(sweep_root "$bin" "$root")
  if [[ $left -ne 0 ]]; then
    echo "check run left $left container(s) in --root after exit"
    return 1
  fi
}

# check_cycle RT BIN ROOT: one create/start/state/delete. Prints the reason on failure.
check_cycle() {
  local rt=$1 bin=$2 root=$3 id="cyc-$rt-$$" err="$BENCH_WORK/logs/check-cycle-$rt.err"
  if ! timeout 60 "$bin" --root "$root" create --bundle "$BENCH_WORK/bundle" "$id" \
      </dev/null >/dev/null 2>"$err"; then
    echo "create failed: $(oneline <"$err")"; sweep_root "$bin" "$root" >/dev/null; return 1
  fi
  if ! timeout 60 "$bin" --root "$root" start "$id" </dev/null >/dev/null 2>"$err"; then
    echo "start failed: $(oneline <"$err")"; sweep_root "$bin" "$root" >/dev/null; return 1
  fi
  if ! wait_stopped "$bin" "$root" "$id"; then
    echo "state never reported \"stopped\" after start"; sweep_root "$bin" "$root" >/dev/null; return 1
  fi
  if ! timeout 60 "$bin" --root "$root" delete "$id" </dev/null >/dev/null 2>"$err"; then
    echo "delete failed: $(oneline <"$err")"; sweep_root "$bin" "$root" >/dev/null; return 1
  fi
}

wait_stopped() {
  local bin=$1 root=$2 id=$3 k
  for ((k = 0; k < 500; k++)); do
    if "$bin" --root "$root" state "$id" 2>/dev/null | grep -q '"status": *"stopped"'; then
      return 0
    fi
    sleep 0.01
  done
  return 1
}

measure_rss() {
  local view=$1 rt=$2 k rc
  shift 2
  local samples=() f="$BENCH_WORK/logs/rss-$view-$rt"
  for ((k = 1; k <= RSS_RUNS; k++)); do
    rc=0
    /usr/bin/time -f %M -o "$f.$k" "$@" "rss-$rt-${view:0:1}-$k" </dev/null >/dev/null 2>"$f.err" || rc=$?
    if [[ $rc -ne 0 ]]; then
      record "$view" rss "$rt" failed - - - "exit $rc: $(oneline <"$f.err")"
      return
    fi
    samples+=("$(tail -n 1 "$f.$k")")
  done
  local s
  s=$(printf '%s\n' "${samples[@]}" | sort -n | awk '{v[NR]=$1} END {
      m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
      printf "%s %s %s", m, v[1], v[NR]}')
  # shellcheck disable=SC2086
  record "$view" rss "$rt" ok $s "KiB; median, min, max of $RSS_RUNS"
  log "[$view] $rt peak RSS: $(awk '{printf "%.1f MiB", $1 / 1024}' <<<"$s")"
}

wants() { [[ " $MEASURES " == *" $1 "* ]]; }

# The commands of one measurement for the runtimes in $1 (a list), with ids {i}.
# shellcheck disable=SC2034  # IL_* are read by measure
set_commands() {
  local view=$1 measure=$2 rts=$3 rt q id v=${1:0:1}
  IL_RT=() IL_CMD=() IL_PREP=() IL_CLEANUP="" IL_SHELL=0
  for rt in $rts; do
    q=$(printf '%q --root %q' "$(runtime_bin "$rt")" "$BENCH_WORK/state/$view-$rt")
    id="$rt-$v-$measure-{i}"
    IL_RT+=("$rt")
    case "$measure" in
      run)
        if [[ "$rt" == floor ]]; then
          IL_CMD+=("$BENCH_WORK/floor $BENCH_WORK/bundle/rootfs")
        else
          IL_CMD+=("$q run --bundle $BENCH_WORK/bundle $id")
        fi ;;
      cycle)
        IL_SHELL=1
        IL_CMD+=("$q create --bundle $BENCH_WORK/bundle $id && $q start $id && $q delete --force $id") ;;
      create)
        IL_CMD+=("$q create --bundle $BENCH_WORK/bundle $id")
        IL_CLEANUP="$BENCH_WORK/delete-ids $view create {i} $rts" ;;
      start)
        IL_PREP+=("$q create --bundle $BENCH_WORK/bundle $id")
        IL_CMD+=("$q start $id")
        IL_CLEANUP="$BENCH_WORK/delete-ids $view start {i} $rts" ;;
      delete)
        # prepare: create, start, and wait until /bin/true has exited (at most 5 s).
        IL_PREP+=("$BENCH_WORK/prepare-delete $q $BENCH_WORK/bundle $id")
        IL_CMD+=("$q delete $id") ;;
    esac
  done
}

inner() {
  local view=$1 rt bin root reason m
  if [[ "$view" == unified && "${BENCH_BIND_UNIFIED:-0}" == 1 ]]; then
    mount --make-rprivate /
    mount --bind /sys/fs/cgroup/unified /sys/fs/cgroup
  fi
  declare -gA BENCH_MISSING=()
  eval "$BENCH_MISSING_DECL"
  # Which runtimes work here (crun 1.8 refuses hybrid hosts: it is still tried there, and
  # its error reported).
  local ok_run="" ok_cycle=""
  for rt in $RUNTIMES; do
    if [[ -n "${BENCH_MISSING[$rt]:-}" ]]; then
      record "$view" all "$rt" missing - - - "${BENCH_MISSING[$rt]}"
      continue
    fi
    bin=$(runtime_bin "$rt")
    if [[ "$rt" == floor ]]; then
      if ! reason=$(timeout 60 "$bin" "$BENCH_WORK/bundle/rootfs" 2>&1 </dev/null); then
        record "$view" all floor failed - - - "check run failed: $(oneline <<<"$reason")"
        continue
      fi
      ok_run+=" floor"
      continue
    fi
    root="$BENCH_WORK/state/$view-$rt"
    mkdir -p "$root"
    if ! reason=$(check_runtime "$view" "$rt" "$bin" "$root"); then
      record "$view" all "$rt" failed - - - "$reason"
      log "[$view] $rt: not measured: $reason"
      continue
    fi
    ok_run+=" $rt"
    if wants cycle || wants create || wants start || wants delete; then
      if reason=$(check_cycle "$rt" "$bin" "$root"); then
        ok_cycle+=" $rt"
      else
        for m in cycle create start delete; do
          wants "$m" && record "$view" "$m" "$rt" failed - - - "$reason"
        done
        log "[$view] $rt create/start/delete: not measured: $reason"
      fi
    fi
  done
  for m in run cycle create start delete; do
    wants "$m" || continue
    if [[ "$m" == run ]]; then set_commands "$view" "$m" "$ok_run"; else set_commands "$view" "$m" "$ok_cycle"; fi
    measure "$view" "$m" "$m"
    for rt in $ok_run; do
      [[ "$rt" != floor ]] || continue
      local left
      left=$(sweep_root "$(runtime_bin "$rt")" "$BENCH_WORK/state/$view-$rt")
      [[ "$m" != run || $left -eq 0 ]] || record "$view" note "$rt" failed - - - "run left $left container(s) behind"
    done
  done
  if wants rss; then
    for rt in $ok_run; do
      bin=$(runtime_bin "$rt")
      if [[ "$rt" == floor ]]; then
        measure_rss "$view" floor "$bin" "$BENCH_WORK/bundle/rootfs"
      else
        measure_rss "$view" "$rt" "$bin" --root "$BENCH_WORK/state/$view-$rt" run --bundle "$BENCH_WORK/bundle"
        sweep_root "$bin" "$BENCH_WORK/state/$view-$rt" >/dev/null
      fi
    done
  fi
}

if [[ "${1:-}" == --inner ]]; then
  inner "$2"
  exit 0
fi

# ---------------------------------------------------------------------------------------
# Outer part: set up, run each view, print and write the results.
# ---------------------------------------------------------------------------------------

write_results=1
for arg in "$@"; do
  case "$arg" in
    --no-results) write_results=0 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument $arg (see --help)" ;;
  esac
done

[[ $(id -u) -eq 0 ]] || die "needs root (containers, mount namespaces); run: sudo make bench"
for tool in hyperfine jq gcc unshare mount timeout; do
  command -v "$tool" >/dev/null || die "$tool not found (scripts/install-deps.sh installs it)"
done
[[ -x /usr/bin/time ]] || die "/usr/bin/time not found (apt-get install time)"

BENCH_WORK=$(mktemp -d /run/berth-bench.XXXXXX)
export BENCH_WORK
# State roots and the bundle on a tmpfs of our own, as /run is on most hosts (not on every
# one: on this kind of VM /run is a directory of the ext4 root, where each state dir's
# mkdir/rmdir and file writes cost every runtime 0.1-0.3 ms of journalling per run).
mount -t tmpfs -o mode=0700,size=512m berth-bench "$BENCH_WORK" \
  || die "cannot mount a tmpfs on $BENCH_WORK"
mkdir -p "$BENCH_WORK"/{json,logs,state}
BENCH_TOKEN="berth-bench-ok-$$"
export BENCH_TOKEN RUNS WARMUP RSS_RUNS BERTH RUNC CRUN RUNTIMES MEASURES STEP_TIMEOUT

cleanup() {
  local d rt
  for d in "$BENCH_WORK"/state/*; do
    [[ -d "$d" ]] || continue
    rt=${d##*-}
    sweep_root "$(runtime_bin "$rt")" "$d" >/dev/null || true
  done
  umount "$BENCH_WORK" 2>/dev/null || umount -l "$BENCH_WORK" 2>/dev/null || true
  rm -rf "$BENCH_WORK"
}
trap cleanup EXIT

# Which runtimes exist.
declare -A BENCH_MISSING=()
for rt in $RUNTIMES; do
  case "$rt" in
    berth)
      [[ -x "$BERTH" ]] || BENCH_MISSING[berth]="$BERTH not found (make build)" ;;
    runc|crun)
      command -v "$(runtime_bin "$rt")" >/dev/null || BENCH_MISSING[$rt]="$(runtime_bin "$rt") not installed" ;;
    floor)
      if [[ ! -f "$FLOOR_SRC" ]]; then
        BENCH_MISSING[floor]="$FLOOR_SRC not found"
      elif ! gcc -O2 -o "$BENCH_WORK/floor" "$FLOOR_SRC" 2>"$BENCH_WORK/logs/floor-cc.err"; then
        BENCH_MISSING[floor]="$FLOOR_SRC does not compile: $(oneline <"$BENCH_WORK/logs/floor-cc.err")"
      fi ;;
    *) die "unknown runtime $rt in RUNTIMES" ;;
  esac
done
BENCH_MISSING_DECL=$(declare -p BENCH_MISSING | sed 's/^declare -A/declare -gA/')
export BENCH_MISSING_DECL

# The bundles: /bin/true for timing; an echo of a token to check each runtime really runs
# a container. Same config for every runtime; no linux.resources.devices (crun on cgroup2).
make_bench_bundle() {
  local dir=$1
  shift
  RUNTIME=$SPEC_RUNTIME "$repo_root/scripts/make-bundle.sh" "$dir" -- "$@" 2>>"$BENCH_WORK/logs/bundle.err" \
    || die "make-bundle.sh failed: $(cat "$BENCH_WORK/logs/bundle.err")"
  jq 'del(.linux.resources.devices)' "$dir/config.json" >"$dir/config.json.new"
  mv "$dir/config.json.new" "$dir/config.json"
}
make_bench_bundle "$BENCH_WORK/bundle" /bin/true

# --prepare of the delete measurement: RUNTIME --root ROOT BUNDLE ID -> a stopped container.
cat >"$BENCH_WORK/prepare-delete" <<'PREPARE'
#!/bin/sh
rt=$1 root=$3 bundle=$4 id=$5
"$rt" --root "$root" create --bundle "$bundle" "$id" </dev/null >/dev/null || exit 1
"$rt" --root "$root" start "$id" || exit 1
for k in $(seq 500); do
  "$rt" --root "$root" state "$id" 2>/dev/null | grep -q '"status": *"stopped"' && exit 0
  sleep 0.01
done
echo "prepare-delete: $id never reached \"stopped\"" >&2
exit 1
PREPARE
chmod 0755 "$BENCH_WORK/prepare-delete"
# --cleanup of create and start: VIEW MEASURE I RT... -> the containers of round I deleted
# (it runs after each runtime's run of the round: only what exists is deleted).
cat >"$BENCH_WORK/delete-ids" <<'DELETE'
#!/bin/sh
view=$1 measure=$2 i=$3
shift 3
for rt in "$@"; do
  case "$rt" in berth) bin=$BERTH ;; runc) bin=$RUNC ;; crun) bin=$CRUN ;; *) continue ;; esac
  root=$BENCH_WORK/state/$view-$rt id=$rt-$(echo "$view" | cut -c1)-$measure-$i
  [ -d "$root/$id" ] || continue
  "$bin" --root "$root" delete --force "$id" >/dev/null 2>&1
done
exit 0
DELETE
chmod 0755 "$BENCH_WORK/delete-ids"
make_bench_bundle "$BENCH_WORK/check" /bin/echo "$BENCH_TOKEN"

# Views.
if [[ -f /sys/fs/cgroup/cgroup.controllers ]]; then
  BENCH_HOST_CGROUP=v2
  views=(unified)
  BENCH_BIND_UNIFIED=0
elif [[ "$(stat -f -c %T /sys/fs/cgroup/unified 2>/dev/null)" == cgroup2fs ]]; then
  BENCH_HOST_CGROUP=hybrid
  views=(unified hybrid)
  BENCH_BIND_UNIFIED=1
else
  BENCH_HOST_CGROUP=v1
  views=(hybrid)
  BENCH_BIND_UNIFIED=0
fi
export BENCH_HOST_CGROUP BENCH_BIND_UNIFIED

started=$(date -u '+%Y-%m-%d %H:%M UTC')
load_before=$(cut -d' ' -f1 /proc/loadavg)
if awk -v l="$load_before" 'BEGIN { exit !(l > 0.5) }'; then
  log "warning: load average $load_before: other work on this machine will inflate the numbers"
fi
log "runs=$RUNS warmup=$WARMUP rss_runs=$RSS_RUNS views: ${views[*]}; work dir $BENCH_WORK"
: >"$BENCH_WORK/results.tsv"
for view in "${views[@]}"; do
  if [[ "$view" == unified && "$BENCH_BIND_UNIFIED" == 1 ]]; then
    nice -n "$BENCH_NICE" unshare -m --propagation private -- bash "$self" --inner unified
  else
    nice -n "$BENCH_NICE" bash "$self" --inner "$view"
  fi
done

# ---------------------------------------------------------------------------------------
# Report.
# ---------------------------------------------------------------------------------------

version_of() {
  local rt=$1 bin v
  [[ -z "${BENCH_MISSING[$rt]:-}" ]] || { echo "missing"; return; }
  bin=$(runtime_bin "$rt")
  case "$rt" in
    floor) echo "$(basename "$FLOOR_SRC") sha256:$(sha256sum "$FLOOR_SRC" | cut -c1-12)"; return ;;
  esac
  v=$(timeout 10 "$bin" --version 2>/dev/null | head -n 1 | oneline) || true
  [[ -n "$v" ]] || v="(no --version output)"
  if [[ "$rt" == berth && "$BERTH" == "$repo_root/build/bin/berth-runtime" ]]; then
    local commit dirty=""
    commit=$(git -C "$repo_root" rev-parse --short HEAD 2>/dev/null || echo unknown)
    [[ -z "$(git -C "$repo_root" status --porcelain -- src cmd CMakeLists.txt 2>/dev/null)" ]] || dirty="+uncommitted changes"
    v="$v (commit $commit$dirty)"
  fi
  echo "$v"
}

view_title() {
  case "$1" in
    unified)
      if [[ "$BENCH_BIND_UNIFIED" == 1 ]]; then
        echo "unified: private mount namespace, cgroup2 (/sys/fs/cgroup/unified) bound over /sys/fs/cgroup"
      else
        echo "unified: the host's cgroup2 hierarchy"
      fi ;;
    hybrid) echo "hybrid: the plain host, cgroup v1 controllers (+ cgroup2 at /sys/fs/cgroup/unified)" ;;
  esac
}

# Markdown table of one view, then its notes.
render_view() {
  awk -F'\t' -v view="$1" -v runtimes="$RUNTIMES" -v measures="$MEASURES" '
    BEGIN {
      nr = split(runtimes, rts, " "); nm = split(measures, ms, " ")
      label["run"] = "run /bin/true (ms)"
      label["cycle"] = "create+start+delete cycle (ms)"
      label["create"] = "create alone (ms)"
      label["start"] = "start alone (ms)"
      label["delete"] = "delete alone (ms)"
      label["rss"] = "peak RSS of `run` (MiB)"
    }
    $1 != view { next }
    $2 == "all" || $2 == "note" {
      if ($2 == "all") { whole[$3] = $4 }
      notes[++nn] = $3 ": " $4 " - " $8
      next
    }
    {
      status[$2, $3] = $4; med[$2, $3] = $5
      if ($4 != "ok") notes[++nn] = $3 " " $2 ": " $4 " - " $8
    }
    function cell(m, rt,   v) {
      if ((m, rt) in status) {
        if (status[m, rt] != "ok") return status[m, rt]
        v = med[m, rt]
        return (m == "rss") ? sprintf("%.1f", v / 1024) : sprintf("%.2f", v)
      }
      if (rt == "floor" && m != "run" && m != "rss") return "n/a"
      if (rt in whole) return whole[rt]
      return "-"
    }
    function ratio(m, a, b) {
      if (status[m, a] == "ok" && status[m, b] == "ok" && med[m, b] > 0)
        return sprintf("%.2f", med[m, a] / med[m, b])
      return "-"
    }
    END {
      hdr = "| measurement |"; sep = "|---|"
      for (i = 1; i <= nr; i++) { hdr = hdr " " rts[i] " |"; sep = sep "---:|" }
      has_berth = (runtimes ~ /(^| )berth( |$)/)
      if (has_berth) for (i = 1; i <= nr; i++) if (rts[i] != "berth") {
        hdr = hdr " berth/" rts[i] " |"; sep = sep "---:|"
      }
      print hdr; print sep
      for (j = 1; j <= nm; j++) {
        m = ms[j]; line = "| " label[m] " |"
        for (i = 1; i <= nr; i++) line = line " " cell(m, rts[i]) " |"
        if (has_berth) for (i = 1; i <= nr; i++) if (rts[i] != "berth")
          line = line " " ratio(m, "berth", rts[i]) " |"
        print line
      }
      if (nn) { print ""; for (k = 1; k <= nn; k++) print "- " notes[k] }
    }' "$BENCH_WORK/results.tsv"
}

# Spread (p10-p90 of the timed runs) for the record.
render_spread() {
  awk -F'\t' -v view="$1" '$1 == view && $4 == "ok" && $2 != "rss" {
      s = s sprintf("%s%s %s %.2f-%.2f", (s ? "; " : ""), $3, $2, $6, $7) }
    END { if (s) print "p10-p90 (ms): " s }' "$BENCH_WORK/results.tsv"
}

cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
load_after=$(cut -d' ' -f1 /proc/loadavg)
report="$BENCH_WORK/report.md"
{
  echo "## $started"
  echo
  echo "- machine: $(nproc) cores (${cpu:-unknown cpu}), kernel $(uname -r), $(. /etc/os-release && echo "$PRETTY_NAME"), cgroups: $BENCH_HOST_CGROUP, 1-min load average $load_before before / $load_after after"
  echo "- versions:"
  for rt in $RUNTIMES; do
    echo "  - $rt: $(version_of "$rt")"
  done
  echo "  - hyperfine: $(hyperfine --version | awk '{print $2}')"
  echo "- method: median of $RUNS timed runs after $WARMUP discarded, the runtimes taking turns (round i runs each once), each run with its own container id and a --root per runtime in a tmpfs mounted for the run; peak RSS: median of $RSS_RUNS \`/usr/bin/time -f %M\` of \`run\`; all at nice $BENCH_NICE. Bundle: \`$SPEC_RUNTIME spec\` with args [/bin/true], linux.resources.devices removed, busybox-static rootfs on that tmpfs."
  for view in "${views[@]}"; do
    echo
    echo "### $(view_title "$view")"
    echo
    render_view "$view"
    echo
    render_spread "$view"
  done
} >"$report"

echo
cat "$report"

if [[ $write_results -eq 1 ]]; then
  "$repo_root/bench/results.py" "$RESULTS" runtime \
    "## berth-runtime vs runc vs crun (bench/runtime.sh)" "$report" "$KEEP_RUNS_IN_RESULTS"
  log "results written to ${RESULTS#"$repo_root"/}"
fi
