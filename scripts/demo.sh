#!/usr/bin/env bash
# `make demo`: build a busybox bundle under build/demo and run one container in it with
# berth-runtime, printing from inside the container what shows it is isolated.
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
trap 'rm -f "$out"' EXIT
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
exit "$status"
