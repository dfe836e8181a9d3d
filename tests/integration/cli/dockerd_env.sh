# shellcheck shell=bash
# A private dockerd for the berth CLI tests: temp data-root, exec-root, socket and cgroup
# parent; no bridge or iptables; runc (dockerd's default) as the runtime, since the CLI is
# what is under test here. Source it, then:
#   cli_env_start || skip "$CLI_ENV_WHY"    # DOCKER_HOST is exported; busybox:latest loaded
#   ...
#   cli_env_stop                             # (also installed as an EXIT trap)
# Mirrors tests/compat/dockerd.sh's care to clean up: containers removed, dockerd and its
# containerd stopped, strays killed, cgroup parent and temp dir removed.

CLI_ENV_DIR=""
CLI_ENV_PID=""
CLI_ENV_WHY=""
CLI_ENV_COMPAT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../compat" && pwd)

cli_env_start() {
  local docker=${DOCKER_CLI:-/usr/local/bin/docker}
  if ! command -v dockerd >/dev/null; then CLI_ENV_WHY="dockerd not installed (apt-get install docker.io)"; return 1; fi
  if [[ ! -x "$docker" ]]; then CLI_ENV_WHY="no docker CLI at $docker"; return 1; fi
  if [[ $(id -u) -ne 0 ]]; then CLI_ENV_WHY="needs root (dockerd)"; return 1; fi
  if [[ ! -x /bin/busybox ]]; then CLI_ENV_WHY="/bin/busybox not found (apt-get install busybox-static)"; return 1; fi
  CLI_ENV_DIR=$(mktemp -d /tmp/berth-cli-test.XXXXXX)
  chmod 0711 "$CLI_ENV_DIR"
  mkdir -p "$CLI_ENV_DIR"/{data,exec,cli}
  export DOCKER_HOST=unix://$CLI_ENV_DIR/docker.sock DOCKER_CONFIG=$CLI_ENV_DIR/cli
  unset DOCKER_CONTEXT DOCKER_TLS_VERIFY DOCKER_CERT_PATH BERTH_HOST
  trap cli_env_stop EXIT
  dockerd --data-root "$CLI_ENV_DIR/data" --exec-root "$CLI_ENV_DIR/exec" \
    -H "$DOCKER_HOST" --pidfile "$CLI_ENV_DIR/docker.pid" \
    --bridge none --iptables=false --ip-masq=false --ip6tables=false --userland-proxy=false \
    --exec-opt native.cgroupdriver=cgroupfs --cgroup-parent "/$(basename "$CLI_ENV_DIR")" \
    --storage-driver overlay2 --log-level warn >"$CLI_ENV_DIR/dockerd.log" 2>&1 </dev/null &
  CLI_ENV_PID=$!
  local i
  for ((i = 0; i < 150; i++)); do
    if ! kill -0 "$CLI_ENV_PID" 2>/dev/null; then
      CLI_ENV_WHY="dockerd exited: $(tail -n 3 "$CLI_ENV_DIR/dockerd.log" | tr '\n' ' ')"
      return 1
    fi
    if timeout 5 "$docker" version >/dev/null 2>&1; then break; fi
    sleep 0.2
  done
  if ((i == 150)); then CLI_ENV_WHY="dockerd did not answer within 30s"; return 1; fi
  # shellcheck source=../../compat/lib.sh
  (ENGINE=cli source "$CLI_ENV_COMPAT/lib.sh" && build_image_archive "$CLI_ENV_DIR") >/dev/null 2>&1 ||
    { CLI_ENV_WHY="could not build the busybox image archive"; return 1; }
  "$docker" load -q -i "$CLI_ENV_DIR/image.tar" >/dev/null &&
    "$docker" tag localhost/berth-compat/busybox:latest busybox:latest ||
    { CLI_ENV_WHY="docker load of the test image failed"; return 1; }
  return 0
}

cli_env_stop() {
  local docker=${DOCKER_CLI:-/usr/local/bin/docker}
  [[ -n "$CLI_ENV_DIR" ]] || return 0
  if [[ -n "$CLI_ENV_PID" ]] && kill -0 "$CLI_ENV_PID" 2>/dev/null; then
    timeout -k 5 60 "$docker" ps -aq 2>/dev/null | xargs -r timeout -k 5 60 "$docker" rm -f >/dev/null 2>&1
    kill -TERM "$CLI_ENV_PID" 2>/dev/null
    for ((i = 0; i < 150; i++)); do kill -0 "$CLI_ENV_PID" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$CLI_ENV_PID" 2>/dev/null
    wait "$CLI_ENV_PID" 2>/dev/null
  fi
  local cpid p cmd mp d
  cpid=$(cat "$CLI_ENV_DIR/exec/containerd/containerd.pid" 2>/dev/null)
  if [[ -n "$cpid" ]] && grep -q "$CLI_ENV_DIR" "/proc/$cpid/cmdline" 2>/dev/null; then
    kill -TERM "$cpid" 2>/dev/null
    for ((i = 0; i < 50; i++)); do kill -0 "$cpid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$cpid" 2>/dev/null
  fi
  for p in /proc/[0-9]*; do
    p=${p#/proc/}
    [[ $p -ne $$ && $p -ne $BASHPID ]] || continue
    cmd=$({ tr '\0' ' ' <"/proc/$p/cmdline"; } 2>/dev/null)
    [[ "$cmd" == *"$CLI_ENV_DIR/"* ]] && kill -KILL "$p" 2>/dev/null
  done
  while read -r mp; do umount -l "$mp" 2>/dev/null; done < <(awk -v w="$CLI_ENV_DIR" \
    '$5 == w || index($5, w "/") == 1 { print $5 }' /proc/self/mountinfo | sort -r)
  local name
  name=$(basename "$CLI_ENV_DIR")
  for ((i = 0; i < 25; i++)); do
    local left=0
    for d in /sys/fs/cgroup/*/"$name" /sys/fs/cgroup/"$name"; do
      [[ -d "$d" ]] || continue
      find "$d" -mindepth 1 -depth -type d -exec rmdir {} + 2>/dev/null
      rmdir "$d" 2>/dev/null || left=1
    done
    ((left == 0)) && break
    sleep 0.2
  done
  rm -rf "$CLI_ENV_DIR"
  CLI_ENV_DIR=""
}
