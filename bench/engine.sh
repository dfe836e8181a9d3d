#!/usr/bin/env bash
# bench/engine.sh: `run --rm <busybox> true` through a whole engine, on this machine, in one run:
#   berth            the berth CLI against berthd
#   docker->berthd   the docker CLI (28) against berthd (same daemon, docker's client)
#   docker->dockerd  the docker CLI against dockerd (Debian docker.io, its own containerd, runc)
#   podman           podman run --rm (conmon, runc: Debian's default crun 1.8 refuses hybrid cgroups)
# Like with like: berth has no networks yet, so every container gets its own network namespace
# with loopback only (berthd's default, `--network none` for the others).
# Also the memory a user pays: berthd idle, one berth-shim per idle container, against
# dockerd + containerd, containerd-shim-runc-v2 and conmon.
#
# Every engine runs on private temp roots (data root, exec root, socket), started and stopped
# here; the image is a static-busybox `docker save` archive loaded into each.
#
#   sudo bench/engine.sh [--no-results]
# Environment: RUNS (30), WARMUP (3), BUILD_DIR (build), RESULTS (bench/RESULTS.md),
#   ENGINES ("berth docker-berthd docker podman"), DOCKER_CLI (/usr/local/bin/docker)
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RUNS=${RUNS:-30}
WARMUP=${WARMUP:-3}
BUILD_DIR=${BUILD_DIR:-$repo_root/build}
RESULTS=${RESULTS:-$repo_root/bench/RESULTS.md}
ENGINES=${ENGINES:-berth docker-berthd docker podman}
DOCKER_CLI=${DOCKER_CLI:-$(command -v /usr/local/bin/docker || command -v docker || true)}
write_results=1
[[ "${1:-}" == "--no-results" ]] && write_results=0

log() { echo "engine-bench: $*" >&2; }
die() {
  log "$*"
  exit 1
}

[[ $(id -u) -eq 0 ]] || die "needs root"
for tool in hyperfine jq tar sha256sum; do
  command -v "$tool" >/dev/null || die "needs $tool (scripts/install-deps.sh)"
done
BERTH=$BUILD_DIR/bin/berth
BERTHD=$BUILD_DIR/bin/berthd
for b in "$BERTH" "$BERTHD" "$BUILD_DIR/bin/berth-shim" "$BUILD_DIR/bin/berth-runtime"; do
  [[ -x "$b" ]] || die "no $b (run make first)"
done

work=$(mktemp -d /tmp/berth-engine-bench.XXXXXX)
chmod 0711 "$work"
BERTHD_PID="" DOCKERD_PID=""
declare -A result=() note=() rss=()

stop_pid() {  # stop_pid PID: TERM, then KILL after 30 s
  local pid=$1 i
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 300; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

cleanup() {
  set +e
  if [[ -n "$BERTHD_PID" ]]; then
    "$BERTH" -H "unix://$work/berth/sock" rm -f $("$BERTH" -H "unix://$work/berth/sock" ps -aq 2>/dev/null) >/dev/null 2>&1
    stop_pid "$BERTHD_PID"
  fi
  if [[ -n "$DOCKERD_PID" ]]; then
    DOCKER_HOST=unix://$work/docker/sock "$DOCKER_CLI" rm -f $(DOCKER_HOST=unix://$work/docker/sock "$DOCKER_CLI" ps -aq 2>/dev/null) >/dev/null 2>&1
    stop_pid "$DOCKERD_PID"
  fi
  podman_cmd rm -a -f -t 0 >/dev/null 2>&1
  podman_cmd system reset -f >/dev/null 2>&1
  # Whatever an engine left mounted under the work dir, innermost first.
  findmnt -rn -o TARGET | grep "^$work" | sort -r | xargs -r -n1 umount -l 2>/dev/null
  for d in /sys/fs/cgroup/*/"$(basename "$work")" /sys/fs/cgroup/"$(basename "$work")"; do
    [[ -d "$d" ]] && find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
  done
  rm -rf "$work"
}
trap cleanup EXIT

# ---- the image: a static-busybox docker-save archive (tests/compat/lib.sh) ------------------
# shellcheck source=../tests/compat/lib.sh
ENGINE=bench source "$repo_root/tests/compat/lib.sh"
build_image_archive "$work/image" >/dev/null || die "could not build the busybox image"
IMAGE=$IMAGE_REF
CGROUP_PARENT=/$(basename "$work")

# ---- engines -----------------------------------------------------------------------------------
start_berthd() {
  mkdir -p "$work/berth"
  "$BERTHD" --data-root "$work/berth/data" --exec-root "$work/berth/exec" \
    -H "unix://$work/berth/sock" --pidfile "$work/berth/pid" >"$work/berthd.log" 2>&1 </dev/null &
  BERTHD_PID=$!
  local i
  for ((i = 0; i < 100; i++)); do
    "$BERTH" -H "unix://$work/berth/sock" version >/dev/null 2>&1 && return 0
    kill -0 "$BERTHD_PID" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

start_dockerd() {
  mkdir -p "$work/docker"
  dockerd --data-root "$work/docker/data" --exec-root "$work/docker/exec" \
    -H "unix://$work/docker/sock" --pidfile "$work/docker/pid" \
    --bridge none --iptables=false --ip-masq=false --ip6tables=false --userland-proxy=false \
    --exec-opt native.cgroupdriver=cgroupfs --cgroup-parent "$CGROUP_PARENT" \
    --storage-driver overlay2 >"$work/dockerd.log" 2>&1 </dev/null &
  DOCKERD_PID=$!
  local i
  for ((i = 0; i < 300; i++)); do
    DOCKER_HOST=unix://$work/docker/sock "$DOCKER_CLI" version >/dev/null 2>&1 && return 0
    kill -0 "$DOCKERD_PID" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

podman_cmd() {
  CONTAINERS_CONF=$work/containers.conf podman --root "$work/podman/root" \
    --runroot "$work/podman/run" --tmpdir "$work/podman/tmp" --cgroup-manager cgroupfs \
    --events-backend file "$@"
}
cat >"$work/containers.conf" <<EOF
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]
netns = "none"
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
EOF
mkdir -p "$work/podman/tmp"

# timed ENGINE NAME CMD: median seconds of `run --rm` into result[NAME]
timed() {
  local name=$1
  shift
  local json=$work/$name.json
  # The command's output must be empty and its status 0 (a failing run is not a fast run).
  if ! out=$("$@" 2>&1) || [[ -n "$out" ]]; then
    note[$name]="check run failed: $(tr '\n' ' ' <<<"$out" | cut -c1-200)"
    return 0
  fi
  if hyperfine -N --style none --runs "$RUNS" --warmup "$WARMUP" --export-json "$json" \
    "$(printf '%q ' "$@")" >"$work/$name.hyperfine" 2>&1; then
    result[$name]=$(jq '.results[0].median' "$json")
    log "$name: $(printf '%.1f' "$(echo "${result[$name]} * 1000" | bc -l)") ms"
  else
    note[$name]="hyperfine failed: $(tail -n 2 "$work/$name.hyperfine" | tr '\n' ' ')"
  fi
}

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
# RssAnon: the private part of a process's resident set (its code pages are shared).
anon_kib() { awk '/^RssAnon:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
# Sum of the RSS of the given process names' processes whose command line mentions $work.
rss_of() {
  local total=0 pid
  for pid in $(pgrep -f "$1" || true); do
    grep -q "$work" "/proc/$pid/cmdline" 2>/dev/null || grep -q "$work" "/proc/$pid/environ" 2>/dev/null || continue
    total=$((total + $(${2:-rss_kib} "$pid")))
  done
  echo "$total"
}

for engine in $ENGINES; do
  case $engine in
    berth | docker-berthd)
      if [[ -z "$BERTHD_PID" ]]; then
        start_berthd || { note[berth]="berthd did not start: $(tail -n 3 "$work/berthd.log" | tr '\n' ' ')"; note[docker-berthd]=${note[berth]}; continue; }
        "$BERTH" -H "unix://$work/berth/sock" load -q -i "$work/image/image.tar" >/dev/null
        rss[berthd]=$(rss_kib "$BERTHD_PID")
      fi
      if [[ $engine == berth ]]; then
        timed berth "$BERTH" -H "unix://$work/berth/sock" run --rm "$IMAGE" true
        # One idle container: its shim's RSS.
        id=$("$BERTH" -H "unix://$work/berth/sock" run -d "$IMAGE" sleep 600)
        sleep 1
        shim=$(pgrep -f "berth-shim.*${id:0:12}" | head -n1 || true)
        [[ -n "$shim" ]] && rss[berth-shim]=$(rss_kib "$shim") && rss[berth-shim-anon]=$(anon_kib "$shim")
        "$BERTH" -H "unix://$work/berth/sock" rm -f "$id" >/dev/null
        rss[berthd-after]=$(rss_kib "$BERTHD_PID")
      else
        [[ -n "$DOCKER_CLI" ]] || { note[docker-berthd]="no docker CLI"; continue; }
        timed docker-berthd env DOCKER_HOST="unix://$work/berth/sock" "$DOCKER_CLI" run --rm "$IMAGE" true
      fi
      ;;
    docker)
      command -v dockerd >/dev/null || { note[docker]="dockerd not installed"; continue; }
      start_dockerd || { note[docker]="dockerd did not start: $(tail -n 3 "$work/dockerd.log" | tr '\n' ' ')"; continue; }
      DOCKER_HOST=unix://$work/docker/sock "$DOCKER_CLI" load -q -i "$work/image/image.tar" >/dev/null
      rss[dockerd]=$(( $(rss_kib "$DOCKERD_PID") + $(rss_of "containerd --config") ))
      timed docker env DOCKER_HOST="unix://$work/docker/sock" "$DOCKER_CLI" run --rm --network none "$IMAGE" true
      id=$(DOCKER_HOST=unix://$work/docker/sock "$DOCKER_CLI" run -d --network none "$IMAGE" sleep 600)
      sleep 1
      rss[containerd-shim]=$(rss_of containerd-shim-runc-v2)
      rss[containerd-shim-anon]=$(rss_of containerd-shim-runc-v2 anon_kib)
      DOCKER_HOST=unix://$work/docker/sock "$DOCKER_CLI" rm -f "$id" >/dev/null
      stop_pid "$DOCKERD_PID"
      DOCKERD_PID=""
      ;;
    podman)
      command -v podman >/dev/null || { note[podman]="podman not installed"; continue; }
      podman_cmd load -q -i "$work/image/image.tar" >/dev/null
      # hyperfine -N runs a program, not a shell function: the same command as a script.
      {
        echo '#!/bin/sh'
        echo "export CONTAINERS_CONF=$work/containers.conf"
        printf 'exec podman --root %q --runroot %q --tmpdir %q --cgroup-manager cgroupfs --events-backend file --runtime runc "$@"\n' \
          "$work/podman/root" "$work/podman/run" "$work/podman/tmp"
      } >"$work/podman-cmd"
      chmod +x "$work/podman-cmd"
      timed podman "$work/podman-cmd" run --rm --network none --cgroup-parent "$CGROUP_PARENT" "$IMAGE" true
      id=$("$work/podman-cmd" run -d --network none --cgroup-parent "$CGROUP_PARENT" "$IMAGE" sleep 600)
      sleep 1
      rss[conmon]=$(rss_of "conmon.*$id")
      rss[conmon-anon]=$(rss_of "conmon.*$id" anon_kib)
      "$work/podman-cmd" rm -f -t 0 "$id" >/dev/null
      ;;
    *) die "unknown engine $engine (berth, docker-berthd, docker, podman)" ;;
  esac
done

# ---- report -----------------------------------------------------------------------------------
ms() { [[ -n "${result[$1]:-}" ]] && printf '%.1f' "$(echo "${result[$1]} * 1000" | bc -l)" || echo "${note[$1]:-n/a}"; }
ratio() { [[ -n "${result[$1]:-}" && -n "${result[$2]:-}" ]] && printf '%.3f' "$(echo "${result[$1]} / ${result[$2]}" | bc -l)" || echo -; }
mib() { [[ -n "${rss[$1]:-}" && "${rss[$1]}" -gt 0 ]] && printf '%.2f' "$(echo "${rss[$1]} / 1024" | bc -l)" || echo n/a; }
report=$work/report.md
{
  echo "## $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo
  echo "- machine: $(nproc) cores, kernel $(uname -r), 1-min load average $(cut -d' ' -f1 /proc/loadavg)"
  echo "- versions: berth $("$BERTH" --version 2>/dev/null | head -n1) (commit $(git -C "$repo_root" rev-parse --short HEAD)), docker CLI $("$DOCKER_CLI" --version 2>/dev/null | awk '{print $3}' | tr -d ,), $(dockerd --version 2>/dev/null | cut -d, -f1), $(podman --version 2>/dev/null)"
  echo "- method: hyperfine -N, median of $RUNS runs after $WARMUP warm-up runs of \`run --rm $IMAGE true\`; every engine on private temp roots; no network (own netns with loopback: berthd's default, \`--network none\` for the others); RSS from /proc/PID/status VmRSS, idle container = \`run -d ... sleep 600\` after 1 s"
  echo
  echo "| run --rm busybox true | ms | / docker->dockerd |"
  echo "|---|---:|---:|"
  echo "| berth CLI -> berthd | $(ms berth) | $(ratio berth docker) |"
  echo "| docker CLI -> berthd | $(ms docker-berthd) | $(ratio docker-berthd docker) |"
  echo "| docker CLI -> dockerd | $(ms docker) | 1.000 |"
  echo "| podman | $(ms podman) | $(ratio podman docker) |"
  echo
  echo "| memory (RSS, MiB) | berth | docker | podman |"
  echo "|---|---:|---:|---:|"
  echo "| daemon idle (after load) | $(mib berthd) | $(mib dockerd) (dockerd + containerd) | - |"
  echo "| daemon after the runs | $(mib berthd-after) | - | - |"
  echo "| per idle container, VmRSS | $(mib berth-shim) (berth-shim) | $(mib containerd-shim) (containerd-shim-runc-v2) | $(mib conmon) (conmon) |"
  echo "| per idle container, RssAnon (private) | $(mib berth-shim-anon) | $(mib containerd-shim-anon) | $(mib conmon-anon) |"
} >"$report"
echo
cat "$report"
if [[ $write_results -eq 1 ]]; then
  "$repo_root/bench/results.py" "$RESULTS" engine "## Engine: run --rm (bench/engine.sh)" "$report" 10
  log "results written to ${RESULTS#"$repo_root"/}"
fi
