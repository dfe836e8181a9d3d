#!/usr/bin/env bash
# bench/pull.sh: cold pull + unpack of a realistic image from a local registry — berth vs
# docker (dockerd from Debian) vs podman, on this machine, in one run, with two floors:
#   download  all blobs fetched in parallel with curl to /dev/null (network + registry alone)
#   gunzip    all layer blobs decompressed in parallel with gzip -dc to /dev/null (no files)
#
# The image (built once into $BENCH_CACHE with tests/fixtures/build-image.sh from host
# directories, hard-linked): 5 gzip layers — a base (/usr/sbin, /usr/libexec, python3), a
# toolchain (/usr/lib/gcc), headers (/usr/include, many small files), data
# (/usr/share/perl, /usr/share/zoneinfo) and an app layer with deletions — about 250 MB
# compressed, 1 GB of files. It is pushed with skopeo to Debian's docker-registry on
# 127.0.0.1.
#
# Each engine pulls into an empty store RUNS times (median reported); its store is emptied
# between runs (untimed). Every store lives under one temp dir on the same disk.
#
#   sudo bench/pull.sh [--no-results]
# Environment: RUNS (3), BENCH_CACHE (/var/cache/berth-bench), BERTH_IMAGE (build/bin/berth-image),
#   RESULTS (bench/RESULTS.md), ENGINES ("berth docker podman")
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RUNS=${RUNS:-3}
BENCH_CACHE=${BENCH_CACHE:-/var/cache/berth-bench}
BERTH_IMAGE=${BERTH_IMAGE:-$repo_root/build/bin/berth-image}
RESULTS=${RESULTS:-$repo_root/bench/RESULTS.md}
ENGINES=${ENGINES:-berth docker podman}
write_results=1
[[ "${1:-}" == "--no-results" ]] && write_results=0

log() { echo "pull-bench: $*" >&2; }
die() {
  log "$*"
  exit 1
}

[[ $(id -u) -eq 0 ]] || die "needs root"
for tool in docker-registry skopeo curl jq gzip tar python3; do
  command -v "$tool" >/dev/null || die "needs $tool (scripts/install-deps.sh)"
done
[[ -x "$BERTH_IMAGE" ]] || die "no $BERTH_IMAGE (run make first)"

# ---- the image --------------------------------------------------------------------------------
IMAGE_RECIPE=1  # bump when the layer list below changes
layout="$BENCH_CACHE/big-oci-$IMAGE_RECIPE"
if [[ ! -f "$layout/index.json" ]]; then
  log "building the benchmark image into $layout (once)"
  stage=$(mktemp -d "$BENCH_CACHE.stage.XXXXXX" 2>/dev/null || { mkdir -p "$BENCH_CACHE" && mktemp -d "$BENCH_CACHE/stage.XXXXXX"; })
  trap 'rm -rf "$stage"' EXIT
  link() {  # link DEST SRC...: hard-linked copies of host dirs, paths kept
    local dest=$1
    shift
    for src in "$@"; do
      mkdir -p "$dest/$(dirname "$src")"
      cp -al "/$src" "$dest/$src"
    done
  }
  link "$stage/l1" usr/sbin usr/libexec usr/lib/python3
  link "$stage/l2" usr/lib/gcc
  link "$stage/l3" usr/include
  link "$stage/l4" usr/share/perl usr/share/zoneinfo
  mkdir -p "$stage/l5/app" "$stage/l5/usr/include"
  head -c $((8 << 20)) /dev/urandom >"$stage/l5/app/data.bin"
  printf '#!/bin/sh\necho app\n' >"$stage/l5/app/run.sh"
  touch "$stage/l5/usr/include/.wh.zlib.h" "$stage/l5/usr/.wh.libexec"
  rm -rf "$layout"
  mkdir -p "$BENCH_CACHE"
  "$repo_root/tests/fixtures/build-image.sh" -o "$layout" -t 1 --mtime keep \
    --layer "$stage/l1" --layer "$stage/l2" --layer "$stage/l3" --layer "$stage/l4" \
    --layer "$stage/l5" --entrypoint '["/app/run.sh"]' >/dev/null
  rm -rf "$stage"
  trap - EXIT
fi
manifest=$(jq -r '.manifests[0].digest' "$layout/index.json")
mapfile -t layers < <(jq -r '.layers[].digest' "$layout/blobs/sha256/${manifest#sha256:}")
compressed=0
for l in "${layers[@]}"; do compressed=$((compressed + $(stat -c %s "$layout/blobs/sha256/${l#sha256:}"))); done
uncompressed=0
for l in "${layers[@]}"; do
  uncompressed=$((uncompressed + $(gzip -dc "$layout/blobs/sha256/${l#sha256:}" | wc -c)))
done

# ---- registry ---------------------------------------------------------------------------------
work=$(mktemp -d /var/tmp/berth-pull-bench.XXXXXX)
registry_pid="" dockerd_pid=""
cleanup() {
  [[ -n "$dockerd_pid" ]] && kill "$dockerd_pid" 2>/dev/null && wait "$dockerd_pid" 2>/dev/null
  [[ -n "$registry_pid" ]] && kill "$registry_pid" 2>/dev/null && wait "$registry_pid" 2>/dev/null
  umount -R "$work"/docker/root/overlay2/*/merged 2>/dev/null || true
  rm -rf "$work" 2>/dev/null || { sleep 1; rm -rf "$work"; }
}
trap cleanup EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$work/registry.yml" <<YML
version: 0.1
log: {level: error}
storage: {filesystem: {rootdirectory: $work/registry}, delete: {enabled: true}}
http: {addr: 127.0.0.1:$port}
YML
docker-registry serve "$work/registry.yml" >"$work/registry.log" 2>&1 &
registry_pid=$!
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$port/v2/" >/dev/null && break; sleep 0.1; done
ref="127.0.0.1:$port/bench/big:1"
skopeo copy -q --dest-tls-verify=false "oci:$layout:1" "docker://$ref" >/dev/null

now() { date +%s.%N; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
declare -A result note

# ---- floors -----------------------------------------------------------------------------------
times=()
for _ in $(seq "$RUNS"); do
  t0=$(now)
  pids=()
  for l in "${layers[@]}"; do
    curl -fs -o /dev/null "http://127.0.0.1:$port/v2/bench/big/blobs/$l" &
    pids+=($!)
  done
  wait "${pids[@]}"
  times+=("$(echo "$(now) - $t0" | bc)")
done
result[download]=$(printf '%s\n' "${times[@]}" | median)
times=()
for _ in $(seq "$RUNS"); do
  t0=$(now)
  pids=()
  for l in "${layers[@]}"; do
    gzip -dc "$layout/blobs/sha256/${l#sha256:}" >/dev/null &
    pids+=($!)
  done
  wait "${pids[@]}"
  times+=("$(echo "$(now) - $t0" | bc)")
done
result[gunzip]=$(printf '%s\n' "${times[@]}" | median)
log "floors: download ${result[download]} s, parallel gunzip ${result[gunzip]} s"

# ---- engines ----------------------------------------------------------------------------------
time_runs() {  # time_runs NAME PULL_CMD RESET_CMD
  local name=$1 pull=$2 reset=$3 t0 times=()
  for _ in $(seq "$RUNS"); do
    eval "$reset" >/dev/null 2>&1 || true
    sync
    t0=$(now)
    if ! eval "$pull" >"$work/$name.out" 2>&1; then
      note[$name]="failed: $(tail -n 3 "$work/$name.out" | tr '\n' ' ')"
      log "$name: ${note[$name]}"
      return 0
    fi
    times+=("$(echo "$(now) - $t0" | bc)")
  done
  eval "$reset" >/dev/null 2>&1 || true
  result[$name]=$(printf '%s\n' "${times[@]}" | median)
  log "$name: ${result[$name]} s (runs: ${times[*]})"
}

for engine in $ENGINES; do
  case $engine in
    berth)
      time_runs berth "'$BERTH_IMAGE' --root '$work/berth' pull -q '$ref'" "rm -rf '$work/berth'"
      ;;
    docker)
      if ! command -v dockerd >/dev/null; then note[docker]="dockerd not installed"; continue; fi
      mkdir -p "$work/docker"
      dockerd --data-root "$work/docker/root" --exec-root "$work/docker/exec" \
        --pidfile "$work/docker/pid" -H "unix://$work/docker/sock" --bridge none \
        --iptables=false --ip6tables=false --storage-driver overlay2 \
        --containerd-namespace berthbench --containerd-plugins-namespace berthbench-plugins \
        >"$work/docker/log" 2>&1 &
      dockerd_pid=$!
      for _ in $(seq 300); do docker -H "unix://$work/docker/sock" info >/dev/null 2>&1 && break; sleep 0.1; done
      D="docker -H unix://$work/docker/sock"
      time_runs docker "$D pull -q '$ref'" "$D rmi -f '$ref'; $D image prune -af"
      kill "$dockerd_pid"
      wait "$dockerd_pid" 2>/dev/null || true
      dockerd_pid=""
      ;;
    podman)
      if ! command -v podman >/dev/null; then note[podman]="podman not installed"; continue; fi
      P="podman --root '$work/podman/root' --runroot '$work/podman/run' --storage-driver overlay"
      time_runs podman "$P pull -q --tls-verify=false '$ref'" "$P rmi -af; $P system reset -f; rm -rf '$work/podman'"
      ;;
  esac
done

# ---- report -----------------------------------------------------------------------------------
ratio() { [[ -n "${result[$1]:-}" && -n "${result[$2]:-}" ]] && printf '%.2f' "$(echo "${result[$1]} / ${result[$2]}" | bc -l)" || echo -; }
cell() { [[ -n "${result[$1]:-}" ]] && printf '%.2f' "${result[$1]}" || echo "${note[$1]:-n/a}"; }
report="$work/report.md"
{
  echo "## $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo
  echo "- machine: $(nproc) cores, kernel $(uname -r), load average $(cut -d' ' -f1 /proc/loadavg)"
  echo "- image: ${#layers[@]} gzip layers, $((compressed / 1048576)) MiB compressed, $((uncompressed / 1048576)) MiB uncompressed (bench/pull.sh recipe $IMAGE_RECIPE), served by docker-registry $(docker-registry --version 2>/dev/null | awk '{print $3}') on 127.0.0.1"
  echo "- versions: berth $("$BERTH_IMAGE" --version 2>/dev/null || git -C "$repo_root" rev-parse --short HEAD), $(dockerd --version 2>/dev/null | cut -d, -f1), $(podman --version 2>/dev/null)"
  echo "- method: median of $RUNS cold pulls (empty store each time) into stores on the same disk"
  echo
  echo "| measurement | seconds | berth / this |"
  echo "|---|---:|---:|"
  echo "| berth-image pull | $(cell berth) | 1.00 |"
  echo "| docker pull | $(cell docker) | $(ratio berth docker) |"
  echo "| podman pull | $(cell podman) | $(ratio berth podman) |"
  echo "| floor: parallel download (curl) | $(cell download) | $(ratio berth download) |"
  echo "| floor: parallel gunzip to /dev/null | $(cell gunzip) | $(ratio berth gunzip) |"
} >"$report"
echo
cat "$report"
if [[ $write_results -eq 1 ]]; then
  "$repo_root/bench/results.py" "$RESULTS" pull "## Image pull, cold (bench/pull.sh)" "$report" 10
  log "results written to ${RESULTS#"$repo_root"/}"
fi
