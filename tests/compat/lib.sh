# shellcheck shell=bash
# Shared helpers for the engine compatibility scripts (podman.sh, dockerd.sh, containerd.sh).
#
# Every check prints exactly one line: "ok - NAME", "not ok - NAME: WHY" or "skip - NAME: WHY";
# run.sh counts those lines. Lines starting with "#" are diagnostics.
#
# Environment:
#   BERTH_RUNTIME        runtime binary the engines use (default: <repo>/build/bin/berth-runtime)
#   COMPAT_CMD_TIMEOUT   seconds allowed to one engine command (default 60)
#   COMPAT_KEEP=1        keep the private temp dir (daemon logs, runtime logs) after the run
#   BUSYBOX              static busybox for the test image (default /bin/busybox)

COMPAT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$COMPAT_DIR/../.." && pwd)
BERTH_RUNTIME=${BERTH_RUNTIME:-$REPO_ROOT/build/bin/berth-runtime}
if [[ "$BERTH_RUNTIME" != /* ]]; then
  if [[ "$BERTH_RUNTIME" == */* ]]; then
    BERTH_RUNTIME=$(cd "$(dirname "$BERTH_RUNTIME")" && pwd)/$(basename "$BERTH_RUNTIME")
  else
    BERTH_RUNTIME=$(command -v "$BERTH_RUNTIME" || echo "$BERTH_RUNTIME")
  fi
fi
export BERTH_RUNTIME
CMD_TIMEOUT=${COMPAT_CMD_TIMEOUT:-60}
BUSYBOX=${BUSYBOX:-/bin/busybox}
IMAGE_REF=localhost/berth-compat/busybox:latest
IMAGE_CMD_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

ENGINE=${ENGINE:-compat}
PASSED=0
FAILED=0
SKIPPED=0
OUT=""
RC=0

ok() {
  echo "ok - $ENGINE: $1"
  PASSED=$((PASSED + 1))
}

# not_ok NAME WHY  (the last command's output, $OUT, is shown as "#" lines under it)
not_ok() {
  echo "not ok - $ENGINE: $1: $2"
  FAILED=$((FAILED + 1))
  if [[ -n "${OUT:-}" ]]; then
    printf '%s\n' "$OUT" | tr -d '\r' | tail -n 15 | sed 's/^/#   /'
  fi
}

skip() {
  echo "skip - $ENGINE: $1: $2"
  SKIPPED=$((SKIPPED + 1))
}

note() { echo "# $ENGINE: $*"; }

# skip_all WHY NAME...: the engine could not run; every named check is skipped with WHY.
skip_all() {
  local why=$1 name
  shift
  for name in "$@"; do skip "$name" "$why"; done
}

# Prints the engine's summary as a comment (run.sh prints the real closing line) and exits
# non-zero when a check failed.
finish() {
  echo "# $ENGINE: $PASSED passed, $FAILED failed, $SKIPPED skipped"
  [[ $FAILED -eq 0 ]]
}

# run_cmd CMD...: runs CMD under a timeout; its stdout+stderr go to $OUT, its status to $RC.
# stdin is /dev/null unless the caller redirects run_cmd's own stdin.
run_cmd() {
  OUT=$(timeout -k 5 "$CMD_TIMEOUT" "$@" 2>&1)
  RC=$?
  if [[ $RC -eq 124 || $RC -eq 137 ]] && [[ -z "$OUT" || "$OUT" != *[![:space:]]* ]]; then
    OUT="(timed out after ${CMD_TIMEOUT}s?)"
  fi
  return 0
}

# run_tty CMD_STRING [INPUT]: runs CMD_STRING (a shell command line) under `script` so that it
# has a controlling terminal; INPUT (if given) is typed into the terminal, one line at a time.
# Output (with \r removed) in $OUT, status in $RC.
run_tty() {
  local cmd=$1 input=${2:-}
  if [[ -n "$input" ]]; then
    # Feed the input slowly: the shell in the container must be up before it is typed.
    OUT=$( { sleep 2; while IFS= read -r line; do printf '%s\n' "$line"; sleep 0.5; done <<<"$input"; sleep 3; } |
      timeout -k 5 "$CMD_TIMEOUT" script -qefc "$cmd" /dev/null 2>&1)
  else
    OUT=$(timeout -k 5 "$CMD_TIMEOUT" script -qefc "$cmd" /dev/null </dev/null 2>&1)
  fi
  RC=$?
  OUT=$(printf '%s' "$OUT" | tr -d '\r' | sed 's/\^@//g')
}

# wait_for SECONDS CMD...: polls CMD (quietly) every 0.2s until it succeeds; 1 on timeout.
wait_for() {
  local secs=$1 i
  shift
  for ((i = 0; i < secs * 5; i++)); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.2
  done
  return 1
}

# make_workdir NAME: a private temp dir in $WORK, removed by cleanup_workdir (unless COMPAT_KEEP).
make_workdir() {
  WORK=$(mktemp -d "/tmp/berth-compat-$1.XXXXXX")
  chmod 0711 "$WORK"
}

# cleanup_workdir: unmounts whatever the engine left mounted under $WORK, then removes it.
cleanup_workdir() {
  [[ -n "${WORK:-}" && -d "$WORK" ]] || return 0
  local mp
  # Deepest first. mountinfo escapes spaces as \040; our paths have none.
  while read -r mp; do
    umount -l "$mp" 2>/dev/null || true
  done < <(awk -v w="$WORK" '$5 == w || index($5, w "/") == 1 { print $5 }' /proc/self/mountinfo | sort -r)
  if [[ "${COMPAT_KEEP:-0}" == 1 ]]; then
    echo "# $ENGINE: kept $WORK"
  else
    rm -rf "$WORK" 2>/dev/null || echo "# $ENGINE: could not remove all of $WORK"
  fi
}

# remove_cgroup_tree NAME: removes /NAME (and the empty cgroups under it) from every hierarchy,
# retrying for a few seconds while the last processes (conmon, shims) are still on their way out.
remove_cgroup_tree() {
  local name=$1 d i left
  [[ -n "$name" && "$name" != */* ]] || return 0
  for ((i = 0; i < 25; i++)); do
    left=0
    for d in /sys/fs/cgroup/*/"$name" /sys/fs/cgroup/"$name"; do
      [[ -d "$d" ]] || continue
      find "$d" -mindepth 1 -depth -type d -exec rmdir {} + 2>/dev/null
      rmdir "$d" 2>/dev/null || left=1
    done
    [[ $left -eq 0 ]] && return 0
    sleep 0.2
  done
  echo "# $ENGINE: could not remove cgroup /$name (still in use)"
}

# kill_strays: SIGKILLs processes (shims, conmon) still running whose command line names $WORK:
# the engine started them from our private dirs, so they are ours; called after the engine stops.
kill_strays() {
  [[ -n "${WORK:-}" ]] || return 0
  local p cmd
  for p in /proc/[0-9]*; do
    p=${p#/proc/}
    [[ $p -ne $$ && $p -ne $BASHPID ]] || continue
    cmd=$({ tr '\0' ' ' <"/proc/$p/cmdline"; } 2>/dev/null)
    if [[ "$cmd" == *"$WORK/"* ]]; then
      echo "# $ENGINE: killing leftover process $p: ${cmd:0:100}"
      kill -KILL "$p" 2>/dev/null
    fi
  done
}

# need_runtime: 0 if $BERTH_RUNTIME is executable, else prints the reason and returns 1.
need_runtime() {
  if [[ ! -x "$BERTH_RUNTIME" ]]; then
    echo "runtime $BERTH_RUNTIME is not executable (build it, or set BERTH_RUNTIME)"
    return 1
  fi
  if [[ ! -x "$BUSYBOX" ]]; then
    echo "$BUSYBOX not found (apt-get install busybox-static)"
    return 1
  fi
  local tool
  for tool in jq sha256sum script timeout tar; do
    command -v "$tool" >/dev/null || { echo "$tool not found"; return 1; }
  done
  return 0
}

# build_image_archive DIR: writes DIR/image.tar, a `docker save`-format archive (manifest.json,
# config, one layer) of a static-busybox rootfs tagged $IMAGE_REF. `podman load`, `docker load`
# and `ctr image import` all read this format, so no registry is needed.
build_image_archive() {
  local dir=$1
  local root=$dir/rootfs arc=$dir/archive applet
  rm -rf "$root" "$arc"
  mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,root,run,var/tmp} "$arc"
  install -m 0755 "$BUSYBOX" "$root/bin/busybox"
  while read -r applet; do
    [[ -n "$applet" && "$applet" != bin/busybox ]] || continue
    mkdir -p "$root/$(dirname "$applet")"
    ln -sfn /bin/busybox "$root/$applet"
  done < <("$BUSYBOX" --list-full)
  install -d -m 1777 "$root/tmp"
  chmod 1777 "$root/var/tmp"
  chmod 0700 "$root/root"
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$root/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
  tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -C "$root" -cf "$dir/layer.tar" . || return 1
  local layer_sha config_sha
  layer_sha=$(sha256sum "$dir/layer.tar" | cut -d' ' -f1)
  mkdir -p "$arc/$layer_sha"
  mv "$dir/layer.tar" "$arc/$layer_sha/layer.tar"
  jq -cn --arg diff "sha256:$layer_sha" --arg path "PATH=$IMAGE_CMD_PATH" '{
      architecture: "amd64", os: "linux", created: "1970-01-01T00:00:00Z",
      config: { Env: [$path], Cmd: ["/bin/sh"], WorkingDir: "/" },
      rootfs: { type: "layers", diff_ids: [$diff] },
      history: [ { created: "1970-01-01T00:00:00Z", created_by: "berth tests/compat: busybox-static rootfs" } ]
    }' >"$dir/config.json"
  config_sha=$(sha256sum "$dir/config.json" | cut -d' ' -f1)
  mv "$dir/config.json" "$arc/$config_sha.json"
  jq -cn --arg cfg "$config_sha.json" --arg tag "$IMAGE_REF" --arg layer "$layer_sha/layer.tar" \
    '[ { Config: $cfg, RepoTags: [$tag], Layers: [$layer] } ]' >"$arc/manifest.json"
  local repo=${IMAGE_REF%:*} tag=${IMAGE_REF##*:}
  jq -cn --arg repo "$repo" --arg tag "$tag" --arg id "$layer_sha" '{ ($repo): { ($tag): $id } }' >"$arc/repositories"
  tar --owner=0 --group=0 --numeric-owner -C "$arc" -cf "$dir/image.tar" \
    manifest.json repositories "$config_sha.json" "$layer_sha" || return 1
  rm -rf "$root" "$arc"
}

# --- cgroups of a process, as the host sees them ---------------------------------------------

# cgroup2_mount: where the unified hierarchy is mounted (/sys/fs/cgroup or .../unified), if any.
cgroup2_mount() {
  awk '$9 == "cgroup2" { print $5; exit }' /proc/self/mountinfo
}

# cgroup_dir PID CONTROLLER: the host directory of PID's cgroup that carries CONTROLLER
# (v1: the hierarchy with that controller; otherwise the unified hierarchy if it has it).
cgroup_dir() {
  local pid=$1 ctrl=$2 line ctrls path mnt
  while IFS= read -r line; do
    line=${line#*:}
    ctrls=${line%%:*}
    path=${line#*:}
    if [[ -n "$ctrls" && ",$ctrls," == *",$ctrl,"* ]]; then
      mnt=$(awk -v c="$ctrl" '$9 == "cgroup" { n = split($NF, o, ","); for (i = 1; i <= n; i++) if (o[i] == c) { print $5; exit } }' /proc/self/mountinfo)
      [[ -n "$mnt" ]] && { echo "$mnt$path"; return 0; }
    fi
  done <"/proc/$pid/cgroup"
  # Unified hierarchy.
  path=$(awk -F: '$1 == "0" && $2 == "" { sub(/^0::/, ""); print; exit }' "/proc/$pid/cgroup")
  mnt=$(cgroup2_mount)
  if [[ -n "$mnt" && -n "$path" ]] && grep -qw "$ctrl" "$mnt$path/cgroup.controllers" 2>/dev/null; then
    echo "$mnt$path"
    return 0
  fi
  return 1
}

# cgroup_limits PID: prints "memory=<bytes|max> pids=<n|max> cpu=<quota>/<period>" read from
# the cgroup files of PID (v1 or v2, whichever hierarchy holds each controller).
cgroup_limits() {
  local pid=$1 d mem="?" pids="?" cpu="?"
  if d=$(cgroup_dir "$pid" memory); then
    if [[ -f "$d/memory.limit_in_bytes" ]]; then mem=$(cat "$d/memory.limit_in_bytes")
    elif [[ -f "$d/memory.max" ]]; then mem=$(cat "$d/memory.max"); fi
  fi
  if d=$(cgroup_dir "$pid" pids); then
    [[ -f "$d/pids.max" ]] && pids=$(cat "$d/pids.max")
  fi
  if d=$(cgroup_dir "$pid" cpu); then
    if [[ -f "$d/cpu.cfs_quota_us" ]]; then
      cpu="$(cat "$d/cpu.cfs_quota_us")/$(cat "$d/cpu.cfs_period_us")"
    elif [[ -f "$d/cpu.max" ]]; then
      cpu=$(tr ' ' / <"$d/cpu.max")
    fi
  fi
  echo "memory=$mem pids=$pids cpu=$cpu"
}

# cgroup_frozen PID: prints FROZEN/THAWED (v1 freezer.state) or 1/0 (v2 cgroup.freeze).
cgroup_frozen() {
  local pid=$1 d
  if d=$(cgroup_dir "$pid" freezer) && [[ -f "$d/freezer.state" ]]; then
    cat "$d/freezer.state"
    return 0
  fi
  local mnt path
  mnt=$(cgroup2_mount)
  path=$(awk -F: '$1 == "0" && $2 == "" { sub(/^0::/, ""); print; exit }' "/proc/$pid/cgroup")
  if [[ -n "$mnt" && -f "$mnt$path/cgroup.freeze" ]]; then
    cat "$mnt$path/cgroup.freeze"
    return 0
  fi
  echo "?"
}

# expected limits for --memory 64m --pids-limit 50 --cpus 0.5 (used by the engine scripts)
# shellcheck disable=SC2034
EXPECTED_LIMITS="memory=67108864 pids=50 cpu=50000/100000"
# Memory and CPU only (ctr run has no pids flag)
# shellcheck disable=SC2034
EXPECTED_LIMITS_MEM_CPU="memory=67108864 cpu=50000/100000"

# proc_state PID: the one-letter state from /proc/PID/stat (S, R, D, T, Z...)
proc_state() {
  awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null
}
