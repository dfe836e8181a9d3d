#!/usr/bin/env bash
# podman with `--runtime $BERTH_RUNTIME`, private --root/--runroot/--tmpdir, cgroupfs manager,
# file events backend, --network none. See README.md.
set -uo pipefail
ENGINE=podman
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$COMPAT_DIR/cli-scenarios.sh"

ALL_CHECKS=("image: podman load" "${CLI_CHECKS[@]}")

if ! why=$(need_runtime); then skip_all "$why" "${ALL_CHECKS[@]}"; finish; exit; fi
if ! command -v podman >/dev/null; then
  skip_all "podman not installed (apt-get install podman; scripts/install-deps.sh)" "${ALL_CHECKS[@]}"
  finish
  exit
fi
if ! command -v conmon >/dev/null; then
  skip_all "conmon not installed (apt-get install conmon)" "${ALL_CHECKS[@]}"
  finish
  exit
fi

make_workdir podman
# Containers and conmon go under a cgroup parent of our own (--cgroup-parent), removed at the end.
CGROUP_PARENT=$(basename "$WORK")
cleanup() {
  if [[ -d "$WORK/root" ]]; then
    timeout -k 5 60 "${CLI[@]}" rm -a -f -t 0 >/dev/null 2>&1
    timeout -k 5 60 "${CLI[@]}" system reset -f >/dev/null 2>&1
  fi
  kill_strays
  remove_cgroup_tree "$CGROUP_PARENT"
  cleanup_workdir
}
trap cleanup EXIT

# A private containers.conf so the host's does not matter; the ulimits are ones a runtime
# without CAP_SYS_RESOURCE in its bounding set can set (podman's default nofile/nproc hard
# limits are 1048576, above this host's hard limits).
mkdir -p "$WORK/tmp"
cat >"$WORK/containers.conf" <<EOF
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]
netns = "none"
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
EOF
export CONTAINERS_CONF=$WORK/containers.conf

CLI=(podman --root "$WORK/root" --runroot "$WORK/runroot" --tmpdir "$WORK/tmp"
  --storage-driver overlay --cgroup-manager cgroupfs --events-backend file
  --runtime "$BERTH_RUNTIME")
RUN_OPTS=(--network none --cgroup-parent "/$CGROUP_PARENT")

note "runtime $BERTH_RUNTIME; podman $(podman --version 2>/dev/null | awk '{print $3}'); work dir $WORK"

# runtime_in_use ID: conmon runs the container with -r $BERTH_RUNTIME, and the runtime's own
# state (its default --root, which podman does not override) has it running.
runtime_in_use() {
  local id full st
  full=$("${CLI[@]}" inspect --format '{{.Id}} {{.OCIRuntime}}' "$1" 2>&1)
  id=${full%% *}
  if [[ "${full#* }" != "$BERTH_RUNTIME" ]]; then
    OUT="podman inspect says OCIRuntime '${full#* }'"
    return 1
  fi
  st=$(timeout 20 "$BERTH_RUNTIME" state "$id" 2>&1)
  if [[ "$(jq -r .status <<<"$st" 2>/dev/null)" != running ]]; then
    OUT="'$BERTH_RUNTIME state $id' says: $st"
    return 1
  fi
  return 0
}

# runtime_diag ID: the runtime's --log file that podman (conmon) passes to every invocation.
runtime_diag() {
  local id log
  id=$("${CLI[@]}" inspect --format '{{.Id}}' "$1" 2>/dev/null) || return 0
  log=$WORK/runroot/overlay-containers/$id/userdata/oci-log
  [[ -s "$log" ]] && tail -n 5 "$log" | sed 's/^/#   runtime log: /'
  return 0
}

if ! build_image_archive "$WORK" >/dev/null 2>&1; then
  OUT=""
  skip_all "could not build the test image archive" "${ALL_CHECKS[@]}"
  finish
  exit
fi
cli load -i "$WORK/image.tar"
if [[ $RC -ne 0 ]]; then
  not_ok "image: podman load" "exit $RC"
  skip_all "podman could not load the test image" "${CLI_CHECKS[@]}"
  finish
  exit
fi
ok "image: podman load"

run_cli_scenarios
finish
