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
# Each engine pulls RUNS times (median reported), each time into an empty store on a freshly
# made ext4 filesystem (see fresh_fs below for why).
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
  stop_dockerd
  if [[ -n "$registry_pid" ]]; then kill "$registry_pid" 2>/dev/null; wait "$registry_pid" 2>/dev/null || true; fi
  umount -R "$work/store" 2>/dev/null || umount -l "$work/store" 2>/dev/null || true
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
# Every timed pull writes into a fresh ext4 filesystem (a sparse file on the same disk, loop
# mounted): right after tens of thousands of files were deleted, ext4 spends seconds skipping
# recently freed inodes when creating new ones, which would charge each run for the cleanup of
# the one before. Engines (dockerd too) start on the new filesystem, untimed.
fresh_fs() {  # fresh_fs DIR: an empty ext4 mounted at DIR
  truncate -s 16G "$work/fs.img"
  mkfs.ext4 -q -F -E lazy_itable_init=1,lazy_journal_init=1 "$work/fs.img"
  mkdir -p "$1"
  mount -o loop "$work/fs.img" "$1"
}
drop_fs() {  # drop_fs DIR
  umount "$1" 2>/dev/null || umount -l "$1"
  rm -f "$work/fs.img"
}

start_dockerd() {  # start_dockerd DATA_DIR
  dockerd --data-root "$1/root" --exec-root "$1/exec" --pidfile "$1/pid" -H "unix://$1/sock" \
    --bridge none --iptables=false --ip6tables=false --storage-driver overlay2 \
    --containerd-namespace berthbench --containerd-plugins-namespace berthbench-plugins \
    >"$work/dockerd.log" 2>&1 &
  dockerd_pid=$!
  for _ in $(seq 300); do docker -H "unix://$1/sock" info >/dev/null 2>&1 && return 0; sleep 0.1; done
  return 1
}
stop_dockerd() {
  if [[ -n "$dockerd_pid" ]]; then kill "$dockerd_pid" 2>/dev/null; wait "$dockerd_pid" 2>/dev/null || true; fi
  dockerd_pid=""
}

# Runs in a subshell ($(...)): it must not start anything that outlives it (dockerd is started
# by the caller).
pull_once() {  # pull_once ENGINE STORE: prints seconds, or fails with the output in $work/ENGINE.out
  local engine=$1 store=$2 t0
  case $engine in
    berth) cmd=("$BERTH_IMAGE" --root "$store/berth" pull -q "$ref") ;;
    docker) cmd=(docker -H "unix://$store/docker/sock" pull -q "$ref") ;;
    podman)
      cmd=(podman --root "$store/podman/root" --runroot "$store/podman/run" --storage-driver overlay
        pull -q --tls-verify=false "$ref")
      ;;
  esac
  sync
  t0=$(now)
  "${cmd[@]}" >"$work/$engine.out" 2>&1 || return 1
  echo "$(now) - $t0" | bc
}

for engine in $ENGINES; do
  if [[ $engine != berth ]] && ! command -v "${engine/docker/dockerd}" >/dev/null; then
    note[$engine]="${engine/docker/dockerd} not installed"
    continue
  fi
  times=()
  for _ in $(seq "$RUNS"); do
    store="$work/store"
    fresh_fs "$store"
    if [[ $engine == docker ]] && ! start_dockerd "$store/docker"; then
      note[docker]="dockerd did not start: $(tail -n 3 "$work/dockerd.log" | tr '\n' ' ')"
    elif t=$(pull_once "$engine" "$store"); then
      times+=("$t")
    else
      note[$engine]="failed: $(tail -n 3 "$work/$engine.out" | tr '\n' ' ')"
    fi
    [[ $engine == docker ]] && stop_dockerd
    [[ $engine == podman ]] && podman --root "$store/podman/root" --runroot "$store/podman/run" \
      system reset -f >/dev/null 2>&1
    umount -R "$store"/docker/root/overlay2/*/merged 2>/dev/null || true
    drop_fs "$store"
    [[ -n "${note[$engine]:-}" ]] && break
  done
  if [[ -z "${note[$engine]:-}" ]]; then
    result[$engine]=$(printf '%s\n' "${times[@]}" | median)
    log "$engine: ${result[$engine]} s (runs: ${times[*]})"
  else
    log "$engine: ${note[$engine]}"
  fi
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
  echo "- method: median of $RUNS cold pulls, each into an empty store on a fresh ext4 filesystem (loop file on the same disk)"
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
