#!/usr/bin/env bash
# `make demo`: berth's main job on a built-in busybox image, in two parts.
#   1. runtime: a busybox bundle under build/demo, one container run by berth-runtime, printing
#      from inside what shows it is isolated.
#   2. images: a busybox image (from the host's busybox-static) pushed to a local registry
#      (Debian's docker-registry on 127.0.0.1), pulled by berth-image into a store under
#      build/demo-store, and run from it — pull, unpack, bundle, run, clean up.
#   3. engine: berthd on a temporary root, the busybox image loaded with the berth CLI, then
#      `berth run --rm busybox echo ...`, `berth ps -a` and `berth images`.
#
# Environment: RUNTIME (default build/bin/berth-runtime; e.g. RUNTIME=runc to compare),
#              DEMO_BUNDLE (default build/demo).
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo_root"
RUNTIME=${RUNTIME:-build/bin/berth-runtime}
DEMO_BUNDLE=${DEMO_BUNDLE:-build/demo}

if [[ $(id -u) -ne 0 ]]; then
  echo "demo: containers need root here; run: sudo make demo" >&2
  exit 1
fi
if ! command -v "$RUNTIME" >/dev/null; then
  echo "demo: runtime $RUNTIME not found (run \`make build\` first)" >&2
  exit 1
fi

# Everything after `--` runs inside the container, as pid 1 of its own pid namespace.
export RUNTIME
scripts/make-bundle.sh "$DEMO_BUNDLE" -- sh -c '
echo "hello from inside berth"
echo "hostname: $(hostname)"
echo "id:       $(id)"
echo "pid:      $$ (pid 1 of a new pid namespace)"
echo "processes:"; ps -o pid,user,comm
echo "network:  $(ls /sys/class/net | tr "\n" " ")"
echo "root:     $(ls / | tr "\n" " ")"
echo "rootfs read-only: $(touch /probe 2>/dev/null && echo no || echo yes)"
'

id="demo-$$"
echo "demo: $RUNTIME run --bundle $DEMO_BUNDLE $id" >&2
echo "----------------------------------------------------------------" >&2
out=$(mktemp)
trap 'rm -f "$out"' EXIT  # replaced by cleanup() in part 2
set +e
"$RUNTIME" run --bundle "$DEMO_BUNDLE" "$id" </dev/null | tee "$out"
status=${PIPESTATUS[0]}
set -e
echo "----------------------------------------------------------------" >&2
echo "demo: container $id exited with status $status" >&2
if ! grep -q "hello from inside berth" "$out"; then
  echo "demo: nothing came from inside the container; is $RUNTIME a working runtime yet?" >&2
  [[ $status -ne 0 ]] || status=1
fi
[[ $status -eq 0 ]] || exit "$status"

# ---- 2. images: registry -> berth-image pull -> run ------------------------------------------
BERTH_IMAGE=build/bin/berth-image
for tool in docker-registry skopeo "$BERTH_IMAGE"; do
  if ! command -v "$tool" >/dev/null; then
    echo "demo: skipping the image part: $tool not found (make deps; make build)" >&2
    exit 0
  fi
done
work=$(mktemp -d /tmp/berth-demo.XXXXXX)
store="$repo_root/build/demo-store"
registry_pid=""
cleanup() {
  rm -f "$out"
  if [[ -n "$registry_pid" ]]; then kill "$registry_pid" 2>/dev/null; wait "$registry_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
printf 'version: 0.1\nlog: {level: error}\nstorage: {filesystem: {rootdirectory: %s}}\nhttp: {addr: 127.0.0.1:%s}\n' \
  "$work/registry" "$port" >"$work/registry.yml"
docker-registry serve "$work/registry.yml" >"$work/registry.log" 2>&1 &
registry_pid=$!
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$port/v2/" >/dev/null 2>&1 && break; sleep 0.1; done
tests/fixtures/busybox-rootfs.sh "$work/rootfs" >/dev/null
tests/fixtures/build-image.sh -o "$work/layout" -t 1 --layer "$work/rootfs" \
  --cmd '["sh","-c","echo hello from an image pulled by berth; echo \"user: $(id -un), cwd: $(pwd), hostname: $(hostname)\""]' \
  --workdir /tmp --env DEMO=1 >/dev/null
ref="127.0.0.1:$port/demo/busybox:1"
skopeo copy -q --dest-tls-verify=false "oci:$work/layout:1" "docker://$ref"
echo "demo: $BERTH_IMAGE --root $store pull $ref" >&2
echo "----------------------------------------------------------------" >&2
"$BERTH_IMAGE" --root "$store" pull "$ref"
"$BERTH_IMAGE" --root "$store" images
echo "----------------------------------------------------------------" >&2
echo "demo: $BERTH_IMAGE --root $store run --runtime $RUNTIME $ref" >&2
set +e
"$BERTH_IMAGE" --root "$store" run --runtime "$RUNTIME" "$ref" </dev/null | tee "$out"
status=${PIPESTATUS[0]}
set -e
"$BERTH_IMAGE" --root "$store" rmi "$ref" >/dev/null
echo "----------------------------------------------------------------" >&2
echo "demo: the image's container exited with status $status" >&2
if ! grep -q "hello from an image pulled by berth" "$out"; then
  echo "demo: nothing came from the image's container" >&2
  [[ $status -ne 0 ]] || status=1
fi
[[ $status -eq 0 ]] || exit "$status"

# ---- 3. engine: berthd + the berth CLI ---------------------------------------------------------
BERTHD=build/bin/berthd BERTH=build/bin/berth
for b in "$BERTHD" "$BERTH" build/bin/berth-shim; do
  if [[ ! -x "$b" ]]; then
    echo "demo: skipping the engine part: $b not built" >&2
    exit 0
  fi
done
berthd_pid=""
stop_berthd() {
  [[ -n "$berthd_pid" ]] || return 0
  "$BERTH" -H "unix://$work/berth.sock" rm -f $("$BERTH" -H "unix://$work/berth.sock" ps -aq 2>/dev/null) >/dev/null 2>&1 || true
  kill -TERM "$berthd_pid" 2>/dev/null
  wait "$berthd_pid" 2>/dev/null || true
  berthd_pid=""
}
trap 'stop_berthd; cleanup' EXIT
echo "demo: $BERTHD --data-root $work/data --exec-root $work/exec -H unix://$work/berth.sock" >&2
"$BERTHD" --data-root "$work/data" --exec-root "$work/exec" -H "unix://$work/berth.sock" \
  --pidfile "$work/berthd.pid" >"$work/berthd.log" 2>&1 </dev/null &
berthd_pid=$!
export BERTH_HOST=unix://$work/berth.sock
for _ in $(seq 100); do "$BERTH" version >/dev/null 2>&1 && break; sleep 0.1; done
# The built-in default image: busybox:latest made from the host's busybox-static.
# shellcheck source=../tests/compat/lib.sh
IMAGE_REF=busybox:latest ENGINE=demo source tests/compat/lib.sh
IMAGE_REF=busybox:latest build_image_archive "$work/busybox" >/dev/null
echo "----------------------------------------------------------------" >&2
echo "demo: berth load -i busybox.tar" >&2
"$BERTH" load -i "$work/busybox/image.tar"
echo "demo: berth run --rm busybox echo hello from berthd" >&2
set +e
"$BERTH" run --rm busybox sh -c 'echo hello from berthd; echo "pid $$, hostname $(hostname)"' | tee "$out"
status=${PIPESTATUS[0]}
set -e
echo "demo: berth run -d --name web busybox sleep 600; berth ps -a; berth images" >&2
"$BERTH" run -d --name web busybox sleep 600 >/dev/null
"$BERTH" ps -a
"$BERTH" images
"$BERTH" rm -f web >/dev/null
echo "----------------------------------------------------------------" >&2
echo "demo: berth run exited with status $status" >&2
if ! grep -q "hello from berthd" "$out"; then
  echo "demo: nothing came from berthd's container" >&2
  [[ $status -ne 0 ]] || status=1
fi
exit "$status"
