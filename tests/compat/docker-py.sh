#!/usr/bin/env bash
# docker-py (python3-docker) against berthd: berthd started here on private temp roots and
# socket, the busybox test image loaded through the API, then docker_py.py's scenarios.
# See README.md.
set -uo pipefail
ENGINE=docker-py
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

BERTHD=${BERTHD:-$(dirname "$BERTH_RUNTIME")/berthd}
ALL_CHECKS=("daemon: berthd starts" "image: load through the API")

if ! why=$(need_runtime); then skip_all "$why" "${ALL_CHECKS[@]}"; finish; exit; fi
if [[ ! -x "$BERTHD" ]]; then
  skip_all "berthd not built ($BERTHD)" "${ALL_CHECKS[@]}"
  finish
  exit
fi
if ! python3 -c 'import docker' 2>/dev/null; then
  skip_all "python3-docker not installed (scripts/install-deps.sh)" "${ALL_CHECKS[@]}"
  finish
  exit
fi

make_workdir docker-py
BERTHD_PID=""
cleanup() {
  if [[ -n "$BERTHD_PID" ]] && kill -0 "$BERTHD_PID" 2>/dev/null; then
    kill -TERM "$BERTHD_PID" 2>/dev/null
    wait_for 30 bash -c "! kill -0 $BERTHD_PID" || kill -KILL "$BERTHD_PID" 2>/dev/null
    wait "$BERTHD_PID" 2>/dev/null
  fi
  kill_strays
  if [[ $FAILED -gt 0 && -f "$WORK/berthd.log" ]]; then
    echo "# docker-py: the end of berthd.log:"
    tail -n 15 "$WORK/berthd.log" | sed 's/^/#   /'
  fi
  cleanup_workdir
}
trap cleanup EXIT

SOCK=$WORK/berth.sock
"$BERTHD" --data-root "$WORK/data" --exec-root "$WORK/exec" -H "unix://$SOCK" \
  --pidfile "$WORK/berthd.pid" >"$WORK/berthd.log" 2>&1 </dev/null &
BERTHD_PID=$!
if wait_for 20 curl -sf --unix-socket "$SOCK" http://berth/_ping; then
  ok "daemon: berthd starts"
else
  OUT=$(tail -n 10 "$WORK/berthd.log")
  not_ok "daemon: berthd starts" "no answer on $SOCK within 20 s"
  finish
  exit
fi

note "berthd $BERTHD; work dir $WORK"
build_image_archive "$WORK/image" >/dev/null
OUT=$(python3 - "unix://$SOCK" "$WORK/image/image.tar" 2>&1 <<'PY'
import sys, docker
c = docker.DockerClient(base_url=sys.argv[1], version="auto")
with open(sys.argv[2], "rb") as f:
    imgs = c.images.load(f.read())
print(" ".join(t for i in imgs for t in i.tags))
PY
)
RC=$?
if [[ $RC -eq 0 && "$OUT" == *"$IMAGE_REF"* ]]; then
  ok "image: load through the API"
else
  not_ok "image: load through the API" "exit $RC, expected the tag $IMAGE_REF"
  finish
  exit
fi

timeout -k 5 300 python3 "$COMPAT_DIR/docker_py.py" "unix://$SOCK" "$IMAGE_REF"
rc=$?
# docker_py.py prints its own ok/not ok lines; its status tells whether one failed.
[[ $rc -eq 0 ]] || FAILED=$((FAILED + 1))
finish
