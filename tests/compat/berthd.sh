#!/usr/bin/env bash
# The real docker CLI against berthd: a private berthd (data root, exec root and socket in a temp
# dir), then the image scenario (version, load, images, inspect, tag, save, rmi, events) and the
# everyday container commands (run --rm, run -d, ps, logs, exec, stop, rm). See README.md.
#
# Environment (besides lib.sh's): BERTHD (default <repo>/build/bin/berthd), DOCKER_CLI.
set -uo pipefail
ENGINE=berthd
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

BERTHD=${BERTHD:-$REPO_ROOT/build/bin/berthd}
ALL_CHECKS=(
  "daemon: starts" "daemon: a second berthd on the socket is refused" "version: API 1.47"
  "image: docker load" "image: docker images" "image: docker image inspect" "image: docker tag"
  "image: docker history" "image: docker save" "image: docker events saw the tag"
  "image: docker rmi untags" "image: unknown endpoint is 501"
  "run --rm: output" "run --rm: exit code" "run -d + logs" "exec: output"
  "run --rm: a slow reader gets all of the output" "exec: a command that cannot run says why, exits 127/126"
  "attach: detach keys end the stream, the container goes on" "attach: invalid detach keys are a 400"
  "logs: --tail 1 of a 40 MB log, berthd's memory stays flat" "logs -f: goes on after the log is truncated"
  "attach --logs: a client that does not read holds up nothing"
  "ps: lists the container"
  "seccomp: the built-in profile confines run and exec" "seccomp: CAP_SYS_ADMIN, --privileged, unconfined"
  "seccomp: a profile file applies; a bad one fails the create, nothing left" "seccomp: docker info names the profile"
  "seccomp: berthd --seccomp-profile with a bad file does not start"
  "cp: into the container" "cp: out of the container" "cp: a tar entry climbing out is refused"
  "cp: a missing path and a file as the extraction point are refused"
  "cp: a path climbing out with .. stays at the root"
  "restart: an --rm container is kept and runs again" "kill: a --restart always container stays down"
  "wait: returns at the exit of a --restart always container"
  "log-opt: applies without --log-driver, checked at create" "create: a failed create leaves no host directory"
  "run -it: tty and typed input" "load: 50 concurrent run --rm, right output, nothing left" "stop + rm"
  "daemon: SIGTERM while an exec runs stops berthd within 5 s" "daemon: SIGTERM leaves containers running"
  "recovery: kill -9 berthd, the container still runs" "recovery: logs continue"
  "recovery: exec and stop work" "recovery: an exit while berthd was down keeps its code"
)

if ! why=$(need_runtime); then skip_all "$why" "${ALL_CHECKS[@]}"; finish; exit; fi
if [[ ! -x "$BERTHD" ]]; then
  skip_all "berthd $BERTHD is not built (set BERTHD)" "${ALL_CHECKS[@]}"
  finish
  exit
fi
DOCKER_CLI=${DOCKER_CLI:-$(command -v /usr/local/bin/docker || command -v docker || true)}
if [[ -z "$DOCKER_CLI" ]]; then
  skip_all "no docker client found" "${ALL_CHECKS[@]}"
  finish
  exit
fi

make_workdir berthd
BERTHD_PID=""
mkdir -p "$WORK/data" "$WORK/exec" "$WORK/cli"
export DOCKER_HOST=unix://$WORK/exec/berth.sock DOCKER_CONFIG=$WORK/cli
unset DOCKER_CONTEXT DOCKER_TLS_VERIFY DOCKER_CERT_PATH

start_berthd() {
  "$BERTHD" --data-root "$WORK/data" --exec-root "$WORK/exec" --pidfile "$WORK/berthd.pid" \
    >>"$WORK/berthd.log" 2>&1 &
  BERTHD_PID=$!
  wait_for 20 "$DOCKER_CLI" version
}

stop_berthd() {
  [[ -n "$BERTHD_PID" ]] || return 0
  kill -TERM "$BERTHD_PID" 2>/dev/null
  wait_for 20 bash -c "! kill -0 $BERTHD_PID" || kill -KILL "$BERTHD_PID" 2>/dev/null
  wait "$BERTHD_PID" 2>/dev/null
  BERTHD_PID=""
}

cleanup() {
  if [[ -n "$BERTHD_PID" ]] && kill -0 "$BERTHD_PID" 2>/dev/null; then
    timeout -k 5 60 "$DOCKER_CLI" ps -aq 2>/dev/null | xargs -r timeout -k 5 60 "$DOCKER_CLI" rm -f >/dev/null 2>&1
  fi
  stop_berthd
  kill_strays
  if [[ "${COMPAT_KEEP:-0}" != 1 && $FAILED -gt 0 && -f "$WORK/berthd.log" ]]; then
    echo "# berthd: last lines of berthd.log:"
    tail -n 10 "$WORK/berthd.log" | sed 's/^/#   /'
  fi
  cleanup_workdir
}
trap cleanup EXIT

cli() { run_cmd "$DOCKER_CLI" "$@"; }
state_of() { "$DOCKER_CLI" inspect --format '{{.State.Status}}' "$1" 2>/dev/null; }

if ! start_berthd; then
  OUT=$(tail -n 20 "$WORK/berthd.log")
  not_ok "daemon: starts" "docker version did not answer within 20 s"
  skip_all "berthd did not start" "${ALL_CHECKS[@]:1}"
  finish
  exit
fi
ok "daemon: starts"

run_cmd "$BERTHD" --data-root "$WORK/data2" --exec-root "$WORK/exec" --pidfile "$WORK/other.pid"
if [[ $RC -ne 0 && "$OUT" == *"another berthd is listening on $WORK/exec/berth.sock"* ]]; then
  ok "daemon: a second berthd on the socket is refused"
else not_ok "daemon: a second berthd on the socket is refused" "exit $RC"; fi

printf '{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_MAYBE"}]}' >"$WORK/daemon-seccomp.json"
run_cmd "$BERTHD" --data-root "$WORK/data3" --exec-root "$WORK/exec3" --seccomp-profile "$WORK/daemon-seccomp.json"
if [[ $RC -ne 0 && "$OUT" == *"loading seccomp profile $WORK/daemon-seccomp.json: Decoding seccomp profile failed: syscalls[0].action: unknown action"* &&
  ! -e "$WORK/data3" && ! -e "$WORK/exec3/berth.sock" ]]; then ok "seccomp: berthd --seccomp-profile with a bad file does not start"
else not_ok "seccomp: berthd --seccomp-profile with a bad file does not start" "exit $RC: $OUT"; fi

cli version --format '{{.Server.APIVersion}}'
if [[ $RC -eq 0 && "$OUT" == "1.47" ]]; then ok "version: API 1.47"
else not_ok "version: API 1.47" "exit $RC"; fi

# --- images ------------------------------------------------------------------------------------
img=$IMAGE_REF
T0=$(date +%s)
if ! build_image_archive "$WORK"; then
  OUT=""
  not_ok "image: docker load" "could not build the image archive"
else
  cli load -i "$WORK/image.tar"
  if [[ $RC -eq 0 && "$OUT" == *"Loaded image: $img"* ]]; then ok "image: docker load"
  else not_ok "image: docker load" "exit $RC"; fi
fi

cli images --format '{{.Repository}}:{{.Tag}}'
if [[ $RC -eq 0 ]] && grep -qx "$img" <<<"$OUT"; then ok "image: docker images"
else not_ok "image: docker images" "exit $RC, $img not listed"; fi

cli image inspect --format '{{.Os}} {{index .Config.Cmd 0}} {{len .RootFS.Layers}}' "$img"
if [[ $RC -eq 0 && "$OUT" == "linux /bin/sh 1" ]]; then ok "image: docker image inspect"
else not_ok "image: docker image inspect" "exit $RC, want 'linux /bin/sh 1'"; fi

cli tag "$img" berth-compat/copy:2
if [[ $RC -eq 0 ]] && "$DOCKER_CLI" images --format '{{.Repository}}:{{.Tag}}' | grep -qx 'berth-compat/copy:2'; then
  ok "image: docker tag"
else not_ok "image: docker tag" "exit $RC"; fi

cli history --no-trunc --format '{{.CreatedBy}}' "$img"
if [[ $RC -eq 0 && "$OUT" == *"busybox-static rootfs"* ]]; then ok "image: docker history"
else not_ok "image: docker history" "exit $RC"; fi

cli save -o "$WORK/saved.tar" "$img" berth-compat/copy:2
if [[ $RC -eq 0 ]] && tar -tf "$WORK/saved.tar" | grep -qx 'manifest.json'; then ok "image: docker save"
else not_ok "image: docker save" "exit $RC"; fi

cli events --since "$T0" --until "$(($(date +%s) + 1))" --filter type=image --format '{{.Action}} {{.Actor.Attributes.name}}'
if [[ $RC -eq 0 && "$OUT" == *"tag berth-compat/copy:2"* ]]; then ok "image: docker events saw the tag"
else not_ok "image: docker events saw the tag" "exit $RC"; fi

cli rmi berth-compat/copy:2
if [[ $RC -eq 0 && "$OUT" == *"Untagged: berth-compat/copy:2"* ]] && "$DOCKER_CLI" image inspect "$img" >/dev/null 2>&1; then
  ok "image: docker rmi untags"
else not_ok "image: docker rmi untags" "exit $RC"; fi

cli network ls
if [[ $RC -ne 0 && "$OUT" == *"berth does not implement GET /networks yet"* ]]; then ok "image: unknown endpoint is 501"
else not_ok "image: unknown endpoint is 501" "exit $RC"; fi

# --- containers ----------------------------------------------------------------------------------
cli run --rm "$img" echo hello-from-berthd
if [[ $RC -eq 0 ]] && grep -qx 'hello-from-berthd' <<<"$OUT"; then ok "run --rm: output"
else not_ok "run --rm: output" "exit $RC"; fi

cli run --rm "$img" sh -c 'exit 7'
if [[ $RC -eq 7 ]]; then ok "run --rm: exit code"
else not_ok "run --rm: exit code" "exit $RC, want 7"; fi

cli run -d --name berthd-compat-d "$img" sh -c 'echo out; echo err >&2; sleep 300'
id=$OUT
if [[ $RC -eq 0 ]] && wait_for 10 bash -c "'$DOCKER_CLI' logs berthd-compat-d 2>&1 | grep -qx err"; then
  ok "run -d + logs"
else not_ok "run -d + logs" "exit $RC"; fi

cli exec berthd-compat-d sh -c 'echo in-$((1+1))'
if [[ $RC -eq 0 && "$OUT" == "in-2" ]]; then ok "exec: output"
else not_ok "exec: output" "exit $RC"; fi

# --- streams: slow readers, exec errors, detach keys, big and truncated logs, attach --logs -------
# The client reads only after the container has exited and its shim was shut down.
OUT=$(timeout -k 5 60 "$DOCKER_CLI" run --rm "$img" sh -c 'dd if=/dev/zero bs=1M count=3 2>/dev/null' | (sleep 2; wc -c))
if [[ "$OUT" == 3145728 ]]; then ok "run --rm: a slow reader gets all of the output"
else not_ok "run --rm: a slow reader gets all of the output" "got $OUT bytes, want 3145728"; fi

cli exec berthd-compat-d /nonexistent
rc_missing=$RC out_missing=$OUT
cli exec berthd-compat-d /etc/passwd
if [[ $rc_missing -eq 127 && "$out_missing" == *"OCI runtime exec failed"*/nonexistent* && $RC -eq 126 &&
  "$OUT" == *"OCI runtime exec failed"* ]]; then ok "exec: a command that cannot run says why, exits 127/126"
else not_ok "exec: a command that cannot run says why, exits 127/126" "exit $rc_missing ($out_missing), exit $RC"; fi

# A raw hijacked attach: ARGS socket container detachKeys(or "") bytes-to-send(hex).
cat >"$WORK/detach.py" <<'PY'
import socket, sys, time
path, name, keys, send = sys.argv[1:5]
s = socket.socket(socket.AF_UNIX)
s.connect(path)
q = "stream=1&stdin=1&stdout=1&stderr=1" + ("&detachKeys=" + keys if keys else "")
s.sendall(("POST /containers/%s/attach?%s HTTP/1.1\r\nHost: berth\r\nConnection: Upgrade\r\n"
           "Upgrade: tcp\r\n\r\n" % (name, q)).encode())
head = b""
while b"\r\n\r\n" not in head:
    d = s.recv(4096)
    if not d:
        sys.exit("closed before the answer")
    head += d
if b" 101 " not in head.split(b"\r\n")[0]:
    sys.exit("answer: %r" % head.split(b"\r\n")[0])
time.sleep(0.5)
s.sendall(bytes.fromhex(send))
s.settimeout(5)
try:
    while s.recv(4096):
        pass
except socket.timeout:
    sys.exit("the stream is still open 5 s after the detach keys")
print("ended")
PY
cli run -dit --name berthd-compat-tty "$img" sh
run_cmd python3 "$WORK/detach.py" "$WORK/exec/berth.sock" berthd-compat-tty "" 1011
out_default=$OUT rc_default=$RC
run_cmd python3 "$WORK/detach.py" "$WORK/exec/berth.sock" berthd-compat-tty "ctrl-a,x" 0178
if [[ $rc_default -eq 0 && $RC -eq 0 && "$(state_of berthd-compat-tty)" == running ]]; then
  ok "attach: detach keys end the stream, the container goes on"
else OUT="$out_default / $OUT"; not_ok "attach: detach keys end the stream, the container goes on" "exit $rc_default, $RC; state $(state_of berthd-compat-tty)"; fi
code=$(curl -s --max-time 10 -o "$WORK/keys.out" -w '%{http_code}' -X POST --unix-socket "$WORK/exec/berth.sock" \
  "http://berth/containers/berthd-compat-tty/attach?stream=1&stdin=1&detachKeys=ctrl-P")
OUT=$(cat "$WORK/keys.out")
if [[ "$code" == 400 && "$OUT" == *"Invalid detach keys (ctrl-P) provided"* ]]; then ok "attach: invalid detach keys are a 400"
else not_ok "attach: invalid detach keys are a 400" "HTTP $code"; fi
"$DOCKER_CLI" rm -f berthd-compat-tty >/dev/null 2>&1

# About 40 MB of log. berthd's peak resident set while it serves it must not grow by that much.
cli run -d --name berthd-compat-biglog "$img" sh -c "yes \$(head -c 1000 /dev/zero | tr '\\0' a) | head -n 40000; echo last-line"
wait_for 60 bash -c "[[ \$('$DOCKER_CLI' inspect -f '{{.State.Status}}' berthd-compat-biglog) == exited ]]"
peak_kb() { awk '/^VmHWM/ {print $2}' "/proc/$BERTHD_PID/status"; }
echo 5 >"/proc/$BERTHD_PID/clear_refs"  # the peak starts again from the current size
before_kb=$(peak_kb)
cli logs --tail 1 berthd-compat-biglog
out_tail=$OUT
bytes=$(timeout -k 5 60 "$DOCKER_CLI" logs berthd-compat-biglog 2>/dev/null | wc -c)
growth_kb=$(($(peak_kb) - before_kb))
note "logs of a 40 MB log: berthd's peak RSS grew by $growth_kb kB"
if [[ "$out_tail" == last-line && "$bytes" == 40040010 && $growth_kb -lt 16384 ]]; then
  ok "logs: --tail 1 of a 40 MB log, berthd's memory stays flat"
else not_ok "logs: --tail 1 of a 40 MB log, berthd's memory stays flat" "tail '$out_tail', $bytes bytes, peak RSS +$growth_kb kB"; fi
"$DOCKER_CLI" rm -f berthd-compat-biglog >/dev/null 2>&1

# max-file 1: the shim truncates the log in place at 2 KiB, many times over while it is followed.
cli run -d --name berthd-compat-trunc --log-driver json-file --log-opt max-size=2k --log-opt max-file=1 "$img" \
  sh -c 'sleep 1; i=0; while [ $i -lt 150 ]; do echo line-$i; i=$((i+1)); sleep 0.01; done'
cli logs -f berthd-compat-trunc
if [[ $RC -eq 0 && "$(tail -n 1 <<<"$OUT")" == line-149 && $(wc -l <<<"$OUT") -gt 100 ]]; then
  ok "logs -f: goes on after the log is truncated"
else not_ok "logs -f: goes on after the log is truncated" "exit $RC, $(wc -l <<<"$OUT") lines, last '$(tail -n 1 <<<"$OUT")'"; fi
"$DOCKER_CLI" rm -f berthd-compat-trunc >/dev/null 2>&1

# attach?logs=1 from a client that never reads its 8 MB replay: stop and rm still work at once.
cli run -d --name berthd-compat-replay "$img" sh -c "head -c 8000000 /dev/zero | tr '\\0' a; echo; echo logged; sleep 1000"
wait_for 30 bash -c "'$DOCKER_CLI' logs --tail 1 berthd-compat-replay 2>/dev/null | grep -qx logged"
python3 - "$WORK/exec/berth.sock" <<'PY' &
import socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(b"POST /containers/berthd-compat-replay/attach?logs=1&stream=1&stdout=1&stderr=1 HTTP/1.1\r\n"
          b"Host: berth\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n")
time.sleep(30)  # reads nothing
PY
reader_pid=$!
sleep 1
t0=$(date +%s%N)
cli stop -t 1 berthd-compat-replay
rc_stop=$RC
cli rm berthd-compat-replay
ms=$((($(date +%s%N) - t0) / 1000000))
kill "$reader_pid" 2>/dev/null; wait "$reader_pid" 2>/dev/null
if [[ $rc_stop -eq 0 && $RC -eq 0 && $ms -lt 8000 ]]; then ok "attach --logs: a client that does not read holds up nothing"
else not_ok "attach --logs: a client that does not read holds up nothing" "stop exit $rc_stop, rm exit $RC, $ms ms"; fi

# --- seccomp: docker's defaults (a built-in allowlist; off for --privileged) ---------------------
cli run --rm "$img" sh -c 'grep Seccomp: /proc/self/status; unshare -U true 2>/dev/null && echo unshare-ok || echo unshare-refused; mkdir /tmp/d && echo mkdir-ok'
out_run=$OUT rc_run=$RC
cli exec berthd-compat-d sh -c 'grep Seccomp: /proc/self/status; unshare -n true 2>/dev/null || echo unshare-refused'
if [[ $rc_run -eq 0 && "$out_run" == *$'Seccomp:\t2'*unshare-refused*mkdir-ok* && $RC -eq 0 &&
  "$OUT" == *$'Seccomp:\t2'*unshare-refused* ]]; then ok "seccomp: the built-in profile confines run and exec"
else not_ok "seccomp: the built-in profile confines run and exec" "run exit $rc_run: $out_run / exec exit $RC: $OUT"; fi

probe='grep Seccomp: /proc/self/status; unshare -U true 2>/dev/null && echo unshare-ok || echo unshare-refused'
cli run --rm --cap-add SYS_ADMIN "$img" sh -c "$probe"; out_admin=$OUT
cli run --rm --privileged "$img" sh -c "$probe"; out_priv=$OUT
cli run --rm --security-opt seccomp=unconfined "$img" sh -c "$probe"
if [[ "$out_admin" == *$'Seccomp:\t2'*unshare-ok* && "$out_priv" == *$'Seccomp:\t0'*unshare-ok* &&
  "$OUT" == *$'Seccomp:\t0'* ]]; then ok "seccomp: CAP_SYS_ADMIN, --privileged, unconfined"
else not_ok "seccomp: CAP_SYS_ADMIN, --privileged, unconfined" "cap-add: $out_admin / privileged: $out_priv / unconfined: $OUT"; fi

cat >"$WORK/seccomp.json" <<'JSON'
{"defaultAction": "SCMP_ACT_ALLOW",
 "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13,
               "excludes": {"caps": ["CAP_SYS_ADMIN"]}}]}
JSON
printf '{"defaultAction": "SCMP_ACT_SOMETIMES"}' >"$WORK/seccomp-bad.json"
cli run --rm --security-opt seccomp="$WORK/seccomp.json" "$img" sh -c 'mkdir /tmp/x'
out_file=$OUT rc_file=$RC
before=$("$DOCKER_CLI" ps -aq | wc -l)
cli run --rm --security-opt seccomp="$WORK/seccomp-bad.json" "$img" true
after=$("$DOCKER_CLI" ps -aq | wc -l)
if [[ $rc_file -ne 0 && "$out_file" == *"Permission denied"* && $RC -eq 125 &&
  "$OUT" == *'Decoding seccomp profile failed: defaultAction: unknown action "SCMP_ACT_SOMETIMES"'* &&
  $before -eq $after ]]; then ok "seccomp: a profile file applies; a bad one fails the create, nothing left"
else not_ok "seccomp: a profile file applies; a bad one fails the create, nothing left" "file: exit $rc_file $out_file / bad: exit $RC $OUT / containers $before -> $after"; fi

cli info --format '{{json .SecurityOptions}}'
if [[ $RC -eq 0 && "$OUT" == *'name=seccomp,profile=builtin'* ]]; then ok "seccomp: docker info names the profile"
else not_ok "seccomp: docker info names the profile" "exit $RC: $OUT"; fi

printf 'copied in\n' >"$WORK/cp-in.txt"
cli cp "$WORK/cp-in.txt" berthd-compat-d:/tmp/
rc_cp=$RC
cli exec berthd-compat-d cat /tmp/cp-in.txt
if [[ $rc_cp -eq 0 && $RC -eq 0 && "$OUT" == "copied in" ]]; then ok "cp: into the container"
else not_ok "cp: into the container" "cp exit $rc_cp, cat exit $RC"; fi

cli exec berthd-compat-d sh -c 'mkdir -p /srv/d/sub && echo x >/srv/d/sub/f && ln -s /etc/shadow /srv/d/link'
mkdir -p "$WORK/cp-out"
cli cp berthd-compat-d:/srv/d "$WORK/cp-out/"
if [[ $RC -eq 0 && "$(cat "$WORK/cp-out/d/sub/f" 2>/dev/null)" == x && \
  "$(readlink "$WORK/cp-out/d/link")" == /etc/shadow ]]; then ok "cp: out of the container"
else not_ok "cp: out of the container" "exit $RC; want d/sub/f and the symlink d/link kept as a link"; fi

# A hand-made tar whose entry climbs out of the destination: refused, nothing written outside.
python3 - "$WORK/evil.tar" <<'PY'
import io, sys, tarfile
with tarfile.open(sys.argv[1], "w") as t:
    data = b"escaped\n"
    info = tarfile.TarInfo("../../../../../berthd-compat-escape")
    info.size = len(data)
    t.addfile(info, io.BytesIO(data))
PY
code=$(curl -s -o "$WORK/evil.out" -w '%{http_code}' -X PUT --unix-socket "$WORK/exec/berth.sock" \
  --data-binary @"$WORK/evil.tar" "http://berth/containers/berthd-compat-d/archive?path=/tmp")
OUT=$(cat "$WORK/evil.out")
if [[ "$code" == 400 && ! -e /berthd-compat-escape && "$OUT" == *"path escapes"* ]] &&
  ! "$DOCKER_CLI" exec berthd-compat-d ls / 2>/dev/null | grep -q berthd-compat-escape; then
  ok "cp: a tar entry climbing out is refused"
else not_ok "cp: a tar entry climbing out is refused" "HTTP $code"; rm -f /berthd-compat-escape; fi

cli cp berthd-compat-d:/no/such/path "$WORK/cp-out/"
rc_missing=$RC out_missing=$OUT
code=$(curl -s -o "$WORK/notdir.out" -w '%{http_code}' -X PUT --unix-socket "$WORK/exec/berth.sock" \
  --data-binary @"$WORK/evil.tar" "http://berth/containers/berthd-compat-d/archive?path=/tmp/cp-in.txt")
OUT="$out_missing / $(cat "$WORK/notdir.out")"
if [[ $rc_missing -ne 0 && "$out_missing" == *"Could not find the file /no/such/path in container"* &&
  "$code" == 400 && "$OUT" == *"extraction point is not a directory"* ]]; then
  ok "cp: a missing path and a file as the extraction point are refused"
else not_ok "cp: a missing path and a file as the extraction point are refused" "cp exit $rc_missing, PUT HTTP $code"; fi

# "/.." and "/etc/../.." are "/" (docker cleans the path): never the bundle above the root, with
# config.json in it.
code=$(curl -s -o "$WORK/up.tar" -w '%{http_code}' --unix-socket "$WORK/exec/berth.sock" \
  "http://berth/containers/berthd-compat-d/archive?path=/..")
up_first=$(tar -tf "$WORK/up.tar" 2>/dev/null | head -n 1)
up_bad=$(tar -tf "$WORK/up.tar" 2>/dev/null | grep -c -e 'config\.json$' -e '^\.\./')
stat_name=$(curl -s -I --unix-socket "$WORK/exec/berth.sock" \
  "http://berth/containers/berthd-compat-d/archive?path=/etc/../.." | tr -d '\r' |
  sed -n 's/^X-Docker-Container-Path-Stat: //Ip' | base64 -d 2>/dev/null | jq -r .name 2>/dev/null)
OUT="GET /..: HTTP $code, first entry '$up_first', $up_bad outside; HEAD /etc/../..: name '$stat_name'"
if [[ "$code" == 200 && "$up_first" == rootfs/ && $up_bad -eq 0 && "$stat_name" == / ]]; then
  ok "cp: a path climbing out with .. stays at the root"
else not_ok "cp: a path climbing out with .. stays at the root" "$OUT"; fi

cli ps --format '{{.Names}} {{.Status}}'
if [[ $RC -eq 0 && "$OUT" == *"berthd-compat-d Up"* ]]; then ok "ps: lists the container"
else not_ok "ps: lists the container" "exit $RC"; fi

run_tty "$(printf '%q ' "$DOCKER_CLI") run -it --rm $img sh" $'tty\necho typed-$((40+2))\nexit 4'
if [[ $RC -eq 4 ]] && grep -qx '/dev/pts/[0-9]*' <<<"$OUT" && grep -qx 'typed-42' <<<"$OUT"; then
  ok "run -it: tty and typed input"
else not_ok "run -it: tty and typed input" "exit $RC, expected 4, a /dev/pts/N line and typed-42"; fi

# 50 concurrent `docker run --rm`: every one prints its own line and exits 0; afterwards no
# container, shim, mount or cgroup of theirs is left.
shims_before=$(pgrep -c -f "berth-shim.*$WORK" || true)
count_cgroups() { find /sys/fs/cgroup/memory/berth /sys/fs/cgroup/pids/berth -mindepth 1 -maxdepth 1 -type d 2>/dev/null | wc -l; }
cg_before=$(count_cgroups)
load_pids=()
for i in $(seq 50); do
  ( out=$(timeout 120 "$DOCKER_CLI" run --rm "$img" echo "hello-$i" 2>&1); echo "$? $out" >"$WORK/load-$i" ) &
  load_pids+=($!)
done
wait "${load_pids[@]}"  # not a bare `wait`: berthd is a background job of this script too
bad=0
for i in $(seq 50); do [[ "$(cat "$WORK/load-$i" 2>/dev/null)" == "0 hello-$i" ]] || bad=$((bad + 1)); done
left_ctr=$("$DOCKER_CLI" ps -aq --filter status=exited | wc -l)
left_shims=$(($(pgrep -c -f "berth-shim.*$WORK" || true) - shims_before))
left_mounts=$(awk -v w="$WORK/data/containers/" 'index($5, w) == 1' /proc/self/mountinfo | wc -l)
left_cg=$(($(count_cgroups) - cg_before))
running=$("$DOCKER_CLI" ps -q | wc -l)
if [[ $bad -eq 0 && $left_ctr -eq 0 && $left_shims -le 0 && $left_mounts -le $running && $left_cg -le 0 ]]; then
  ok "load: 50 concurrent run --rm, right output, nothing left"
else
  OUT=$(for i in $(seq 50); do l=$(cat "$WORK/load-$i" 2>/dev/null); [[ "$l" == "0 hello-$i" ]] || echo "run $i: $l"; done | head -5)
  not_ok "load: 50 concurrent run --rm, right output, nothing left" "$bad bad runs; left: $left_ctr containers, $left_shims shims, $left_mounts mounts ($running running), $left_cg new cgroups"
fi

# --- restart policies, restart, kill, wait; log options; what a failed create leaves --------------
cli run -d --rm --name berthd-compat-rm "$img" sleep 300
cli restart -t 1 berthd-compat-rm
if [[ $RC -eq 0 && "$(state_of berthd-compat-rm)" == running ]]; then ok "restart: an --rm container is kept and runs again"
else not_ok "restart: an --rm container is kept and runs again" "restart exit $RC, state '$(state_of berthd-compat-rm)'"; fi
"$DOCKER_CLI" rm -f berthd-compat-rm >/dev/null 2>&1

cli run -d --restart always --name berthd-compat-always "$img" sleep 300
cli kill berthd-compat-always
rc_kill=$RC
sleep 1
got=$("$DOCKER_CLI" inspect --format '{{.State.Status}} {{.RestartCount}}' berthd-compat-always 2>&1)
if [[ $rc_kill -eq 0 && "$got" == "exited 0" ]]; then ok "kill: a --restart always container stays down"
else not_ok "kill: a --restart always container stays down" "kill exit $rc_kill, state '$got', want 'exited 0'"; fi
"$DOCKER_CLI" rm -f berthd-compat-always >/dev/null 2>&1

cli run -d --restart always --name berthd-compat-wait "$img" sh -c 'sleep 1; exit 3'
run_cmd timeout 20 "$DOCKER_CLI" wait berthd-compat-wait
if [[ $RC -eq 0 && "$OUT" == 3 ]]; then ok "wait: returns at the exit of a --restart always container"
else not_ok "wait: returns at the exit of a --restart always container" "exit $RC, want 0 and '3'"; fi
"$DOCKER_CLI" rm -f berthd-compat-wait >/dev/null 2>&1

cli run --name berthd-compat-logopt --log-opt max-size=1k --log-opt max-file=2 "$img" \
  sh -c 'i=0; while [ $i -lt 100 ]; do echo line-$i-0123456789; i=$((i+1)); done'
lid=$("$DOCKER_CLI" inspect --format '{{.Id}}' berthd-compat-logopt 2>/dev/null)
cfg=$("$DOCKER_CLI" inspect --format '{{.HostConfig.LogConfig.Type}} {{index .HostConfig.LogConfig.Config "max-size"}}' berthd-compat-logopt 2>&1)
last=$("$DOCKER_CLI" logs berthd-compat-logopt 2>&1 | tail -n 1)
cli create --log-opt foo=bar "$img"
rc_foo=$RC out_foo=$OUT
cli create --log-opt max-file=1001 "$img"
if [[ "$cfg" == "json-file 1k" && -n "$lid" && -f "$WORK/data/containers/$lid/$lid-json.log.1" &&
  ! -e "$WORK/data/containers/$lid/$lid-json.log.2" && "$last" == line-99-0123456789 &&
  $rc_foo -ne 0 && "$out_foo" == *"unknown log opt 'foo' for json-file log driver"* &&
  $RC -ne 0 && "$OUT" == *"max-file cannot be more than 1000"* ]]; then
  ok "log-opt: applies without --log-driver, checked at create"
else not_ok "log-opt: applies without --log-driver, checked at create" "LogConfig '$cfg', last line '$last'; foo=bar: exit $rc_foo $out_foo; max-file=1001: exit $RC"; fi
"$DOCKER_CLI" rm -f berthd-compat-logopt >/dev/null 2>&1

cli create -v "$WORK/binds/new:/x" -v berthd-compat-vol:/v --device /dev/nonexistent "$img"
if [[ $RC -ne 0 && "$OUT" == *'"/dev/nonexistent": no such file or directory'* && ! -e "$WORK/binds" &&
  ! -e "$WORK/data/volumes/berthd-compat-vol" ]]; then ok "create: a failed create leaves no host directory"
else not_ok "create: a failed create leaves no host directory" "exit $RC; left: $(ls -d "$WORK/binds" "$WORK/data/volumes/berthd-compat-vol" 2>/dev/null | tr '\n' ' ')"; fi

cli run -d --name berthd-compat-keep "$img" sleep 300
keep_pid=$("$DOCKER_CLI" inspect --format '{{.State.Pid}}' berthd-compat-keep 2>/dev/null)
cli stop -t 1 berthd-compat-d
rc_stop=$RC
cli rm berthd-compat-d
if [[ $rc_stop -eq 0 && $RC -eq 0 ]] && ! "$DOCKER_CLI" inspect berthd-compat-d >/dev/null 2>&1; then
  ok "stop + rm"
else not_ok "stop + rm" "stop exit $rc_stop, rm exit $RC"; fi

# berthd stops, promptly even while an exec runs; the container it started keeps running under
# its shim.
cli exec -d berthd-compat-keep sleep 1000
kill -TERM "$BERTHD_PID" 2>/dev/null
if wait_for 5 bash -c "! kill -0 $BERTHD_PID"; then ok "daemon: SIGTERM while an exec runs stops berthd within 5 s"
else OUT=$(tail -n 5 "$WORK/berthd.log"); not_ok "daemon: SIGTERM while an exec runs stops berthd within 5 s" "still running after 5 s"; fi
stop_berthd
if [[ -n "$keep_pid" && "$keep_pid" != 0 ]] && kill -0 "$keep_pid" 2>/dev/null; then
  ok "daemon: SIGTERM leaves containers running"
else OUT=""; not_ok "daemon: SIGTERM leaves containers running" "pid '$keep_pid' is gone"; fi

# kill -9 berthd: the containers keep running; a new berthd picks them up (logs, exec, stop),
# and one that exited meanwhile shows its real exit code.
if start_berthd; then
  cli run -d --name berthd-compat-rec "$img" sh -c 'i=0; while :; do echo tick-$i; i=$((i+1)); sleep 0.2; done'
  cli run -d --name berthd-compat-exit "$img" sh -c 'sleep 2; exit 42'
  rec_pid=$("$DOCKER_CLI" inspect --format '{{.State.Pid}}' berthd-compat-rec 2>/dev/null)
  kill -KILL "$BERTHD_PID"
  wait "$BERTHD_PID" 2>/dev/null
  BERTHD_PID=""
  sleep 3  # the second container exits while no berthd runs
  if [[ -n "$rec_pid" && "$rec_pid" != 0 ]] && kill -0 "$rec_pid" 2>/dev/null && start_berthd &&
    [[ "$(state_of berthd-compat-rec)" == running ]]; then
    ok "recovery: kill -9 berthd, the container still runs"
  else OUT=$(tail -n 5 "$WORK/berthd.log"); not_ok "recovery: kill -9 berthd, the container still runs" "pid '$rec_pid', state '$(state_of berthd-compat-rec)'"; fi
  n1=$("$DOCKER_CLI" logs berthd-compat-rec 2>/dev/null | wc -l)
  sleep 1
  n2=$("$DOCKER_CLI" logs berthd-compat-rec 2>/dev/null | wc -l)
  if [[ $n2 -gt $n1 && $n1 -gt 10 ]]; then ok "recovery: logs continue"
  else OUT=""; not_ok "recovery: logs continue" "log lines $n1 then $n2"; fi
  cli exec berthd-compat-rec echo still-here
  rc_exec=$RC out_exec=$OUT
  cli stop -t 1 berthd-compat-rec
  if [[ $rc_exec -eq 0 && "$out_exec" == still-here && $RC -eq 0 && "$(state_of berthd-compat-rec)" == exited ]]; then
    ok "recovery: exec and stop work"
  else not_ok "recovery: exec and stop work" "exec exit $rc_exec ('$out_exec'), stop exit $RC"; fi
  got=$("$DOCKER_CLI" inspect --format '{{.State.Status}} {{.State.ExitCode}}' berthd-compat-exit 2>&1)
  if [[ "$got" == "exited 42" ]]; then ok "recovery: an exit while berthd was down keeps its code"
  else OUT=""; not_ok "recovery: an exit while berthd was down keeps its code" "state '$got', want 'exited 42'"; fi
  "$DOCKER_CLI" rm -f berthd-compat-keep berthd-compat-rec berthd-compat-exit >/dev/null 2>&1
else
  OUT=$(tail -n 10 "$WORK/berthd.log")
  not_ok "recovery: kill -9 berthd, the container still runs" "berthd did not start again"
  skip "recovery: logs continue" "berthd did not start again"
  skip "recovery: exec and stop work" "berthd did not start again"
  skip "recovery: an exit while berthd was down keeps its code" "berthd did not start again"
fi
[[ -n "$keep_pid" && "$keep_pid" != 0 ]] && kill -KILL "$keep_pid" 2>/dev/null

finish
