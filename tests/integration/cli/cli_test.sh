#!/usr/bin/env bash
# The berth CLI against a private dockerd, scenario by scenario, each compared with what the
# docker CLI (/usr/local/bin/docker, or $DOCKER_CLI) prints against the same daemon where the
# output is deterministic. TAP-style lines; exit 0 when every check passed or was skipped,
# 77 (ctest SKIP) when dockerd cannot run here.
#
#   tests/integration/cli/cli_test.sh build/bin/berth [SCENARIO-SUBSTRING]
set -uo pipefail
BERTH=$(readlink -f "${1:?usage: cli_test.sh BERTH_BINARY [filter]}")
FILTER=${2:-}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
DOCKER=${DOCKER_CLI:-/usr/local/bin/docker}
# shellcheck source=dockerd_env.sh
source "$HERE/dockerd_env.sh"

PASSED=0 FAILED=0 SKIPPED=0
ok() { echo "ok - $1"; PASSED=$((PASSED + 1)); }
not_ok() {
  echo "not ok - $1: $2"
  FAILED=$((FAILED + 1))
  [[ -n "${3:-}" ]] && printf '%s\n' "$3" | head -n 20 | sed 's/^/#   /'
  return 0
}
skip() { echo "skip - $1: $2"; SKIPPED=$((SKIPPED + 1)); }
wanted() { [[ -z "$FILTER" || "$1" == *"$FILTER"* ]]; }

# run_both ARGS...: runs `berth ARGS` and `docker ARGS` (stdin /dev/null); B_OUT/B_ERR/B_RC and
# D_OUT/D_ERR/D_RC; docker's own name in its messages becomes "berth".
run_both() {
  B_OUT=$(timeout -k 5 60 "$BERTH" "$@" 2>"$CLI_ENV_DIR/b.err" </dev/null); B_RC=$?
  B_ERR=$(cat "$CLI_ENV_DIR/b.err")
  D_OUT=$(timeout -k 5 60 "$DOCKER" "$@" 2>"$CLI_ENV_DIR/d.err" </dev/null); D_RC=$?
  D_ERR=$(sed -e 's/docker/berth/g; s/Docker daemon/berth daemon/g' "$CLI_ENV_DIR/d.err")
}

# same NAME ARGS...: stdout, stderr and exit status of berth and docker are identical.
same() {
  local name=$1
  shift
  wanted "$name" || return 0
  run_both "$@"
  if [[ "$B_OUT" != "$D_OUT" ]]; then
    not_ok "$name" "stdout differs from docker's" "$(diff <(echo "$D_OUT") <(echo "$B_OUT") | head -n 20)"
  elif [[ "$B_ERR" != "$D_ERR" ]]; then
    not_ok "$name" "stderr differs from docker's" "$(diff <(echo "$D_ERR") <(echo "$B_ERR") | head -n 20)"
  elif [[ $B_RC -ne $D_RC ]]; then
    not_ok "$name" "exit status $B_RC, docker's $D_RC"
  else
    ok "$name"
  fi
}

# same_out NAME ARGS...: as same, stdout and exit status only.
same_out() {
  local name=$1
  shift
  wanted "$name" || return 0
  run_both "$@"
  if [[ "$B_OUT" != "$D_OUT" ]]; then
    not_ok "$name" "stdout differs from docker's" "$(diff <(echo "$D_OUT") <(echo "$B_OUT") | head -n 20)"
  elif [[ $B_RC -ne $D_RC ]]; then
    not_ok "$name" "exit status $B_RC, docker's $D_RC" "$B_ERR"
  else
    ok "$name"
  fi
}

# same_sorted NAME ARGS...: as same_out, lines compared in sorted order (dockerd lists an
# image's tags in no fixed order).
same_sorted() {
  local name=$1
  shift
  wanted "$name" || return 0
  run_both "$@"
  if [[ "$(sort <<<"$B_OUT")" != "$(sort <<<"$D_OUT")" ]]; then
    not_ok "$name" "stdout differs from docker's" "$(diff <(sort <<<"$D_OUT") <(sort <<<"$B_OUT") | head -n 20)"
  elif [[ $B_RC -ne $D_RC ]]; then
    not_ok "$name" "exit status $B_RC, docker's $D_RC" "$B_ERR"
  else
    ok "$name"
  fi
}

# expect NAME WANT_RC WANT_OUT_REGEX CMD...: berth's status and (stdout+stderr) match.
expect() {
  local name=$1 want_rc=$2 want=$3
  shift 3
  wanted "$name" || return 0
  local out rc
  out=$(timeout -k 5 60 "$@" 2>&1 </dev/null)
  rc=$?
  if [[ $rc -ne $want_rc ]]; then
    not_ok "$name" "exit status $rc, want $want_rc" "$out"
  elif ! [[ "$out" =~ $want ]]; then
    not_ok "$name" "output does not match /$want/" "$out"
  else
    ok "$name"
  fi
}

if ! cli_env_start; then
  echo "skip - berth CLI scenarios: $CLI_ENV_WHY"
  exit 77
fi
T0=$(date +%s)
echo "# dockerd $(dockerd --version | awk '{print $3}' | tr -d ,), docker CLI $("$DOCKER" --version | awk '{print $3}' | tr -d ,), work dir $CLI_ENV_DIR"

# ---- run ------------------------------------------------------------------------------------
same "run: output and exit status" run --rm busybox sh -c 'echo out; echo err >&2; exit 3'
same "run: --rm true" run --rm busybox true
same "run: command not found is 127" run --rm busybox no-such-command
same "run: not executable is 126" run --rm busybox /etc/passwd
same "run: unknown flag is 125" run --rm --no-such-flag busybox true
same "run: no image argument" run
same "run: -e, -w, -u, --entrypoint" run --rm -e A=1 -e B -w /tmp -u 65534 --entrypoint sh busybox -c 'echo $A $B; pwd; id -u'
same "run: --env-file and -h" run --rm --env-file /dev/null -h myhost busybox hostname
same "run: --read-only" run --rm --read-only busybox touch /x
same "run: --tmpfs and -v" run --rm --tmpfs /scratch:size=1m -v /etc/hostname:/h:ro busybox sh -c 'grep -c scratch /proc/mounts; test -f /h && echo bind'
same "run: --memory, --pids-limit, --cpus" run --rm --memory 64m --pids-limit 50 --cpus 0.5 busybox true
same "run: --cap-drop, --cap-add, --privileged" run --rm --cap-drop ALL --cap-add CHOWN busybox sh -c 'grep CapEff /proc/self/status'
same "run: --init" run --rm --init busybox sh -c 'cat /proc/1/cmdline | tr "\0" " "'
same "run: -a stdout only" run --rm -a stdout busybox sh -c 'echo o; echo e >&2'
same "run: --restart with --rm conflicts" run --rm --restart always busybox true
same "run: bad --restart" run --restart sometimes busybox true
same "run: bad --pull" run --pull bogus busybox true
same "run: create with a bad --pull" create --pull bogus busybox true
same "run: an unknown user" run --rm -u nosuchuser busybox true
same "run: --ulimit" run --rm --ulimit nofile=100:200 busybox sh -c 'ulimit -n; ulimit -Hn'
same "run: --security-opt and --stop-signal" run --rm --security-opt no-new-privileges --stop-signal SIGUSR1 --stop-timeout 3 busybox sh -c 'grep NoNewPrivs /proc/self/status'
same "run: image from an unreachable registry" run --rm 127.0.0.1:1/nope:1 true
if wanted "run: stdin with -i"; then
  out=$(echo piped | "$BERTH" run -i --rm busybox sh -c 'cat; echo done')
  [[ "$out" == $'piped\ndone' ]] && ok "run: stdin with -i" || not_ok "run: stdin with -i" "got: $out"
fi
if wanted "run: -it"; then
  out=$(script -qefc "$BERTH run -it --rm busybox sh -c 'tty; stty size; exit 4'" /dev/null </dev/null 2>&1 | tr -d '\r')
  rc=${PIPESTATUS[0]}
  if [[ "$out" == /dev/pts/* && $rc -eq 4 ]]; then ok "run: -it"; else not_ok "run: -it" "exit $rc" "$out"; fi
fi
if wanted "run: -it detach keys"; then
  # ctrl-p ctrl-q typed into the terminal: berth returns at once, the container goes on.
  out=$( { sleep 2; printf '\020\021'; sleep 2; } | timeout 20 script -qefc "$BERTH run -it --name detachme busybox sh" /dev/null 2>&1)
  rc=$?
  state=$("$BERTH" inspect -f '{{.State.Running}}' detachme 2>&1)
  if [[ $rc -eq 0 && "$state" == true ]]; then ok "run: -it detach keys"; else not_ok "run: -it detach keys" "exit $rc, running: $state" "$out"; fi
  "$BERTH" rm -f detachme >/dev/null 2>&1
fi
same "run: -t without a terminal" run -it --rm busybox true
if wanted "run: signals are proxied"; then
  "$BERTH" run --rm --name sigproxy busybox sh -c 'trap "echo got TERM; exit 7" TERM; echo ready; while :; do sleep 0.1; done' >"$CLI_ENV_DIR/sig.out" 2>&1 &
  bpid=$!
  for ((i = 0; i < 100; i++)); do grep -q ready "$CLI_ENV_DIR/sig.out" 2>/dev/null && break; sleep 0.1; done
  kill -TERM $bpid
  wait $bpid
  rc=$?
  if [[ $rc -eq 7 ]] && grep -q "got TERM" "$CLI_ENV_DIR/sig.out"; then ok "run: signals are proxied"
  else not_ok "run: signals are proxied" "exit $rc" "$(cat "$CLI_ENV_DIR/sig.out")"; fi
fi

# ---- create, start, -d, logs, wait ----------------------------------------------------------
if wanted "lifecycle"; then
  id=$("$BERTH" run -d --name bg -l team=a -l tier=web busybox sh -c 'echo one; echo two >&2; echo three; sleep 1000')
  [[ "$id" =~ ^[0-9a-f]{64}$ ]] && ok "lifecycle: run -d prints the ID" || not_ok "lifecycle: run -d prints the ID" "got '$id'"
  for ((i = 0; i < 50; i++)); do [[ $("$DOCKER" logs bg 2>&1 | wc -l) -ge 3 ]] && break; sleep 0.1; done
  same "lifecycle: logs" logs bg
  same "lifecycle: logs --tail 1" logs --tail 1 bg
  # stdout and stderr are separate pipes: the daemon may log "two" (stderr) before "one".
  expect "lifecycle: logs -t" 0 '[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z one' "$BERTH" logs -t bg
  same "lifecycle: logs --since in the future" logs --since 2099-01-01T00:00:00Z bg
  "$BERTH" run -d --name follow busybox sh -c 'echo first; sleep 1; echo second' >/dev/null
  expect "lifecycle: logs -f ends with the container" 0 $'^first\nsecond$' "$BERTH" logs -f follow
  same "lifecycle: a duplicate name" run --name follow busybox true
  "$BERTH" rm follow >/dev/null
  same "lifecycle: exec" exec -e X=y -w /tmp bg sh -c 'echo $X; pwd'
  same "lifecycle: exec exit status" exec bg sh -c 'exit 4'
  same "lifecycle: exec command not found" exec bg no-such-command
  same "lifecycle: exec -u" exec -u 65534 bg id -u
  printf '  # indented comment\n  FOO=bar baz\nHOME_FROM_HOST\n\n' >"$CLI_ENV_DIR/exec.env"
  same "lifecycle: exec --env-file reads like run's" exec --env-file "$CLI_ENV_DIR/exec.env" bg sh -c 'echo "[$FOO]"; env | grep -c HOME_FROM_HOST'
  if wanted "lifecycle: exec -i"; then
    out=$(echo via-stdin | "$BERTH" exec -i bg cat)
    [[ "$out" == via-stdin ]] && ok "lifecycle: exec -i" || not_ok "lifecycle: exec -i" "got: $out"
  fi
  expect "lifecycle: exec -d" 0 '^$' "$BERTH" exec -d bg touch /tmp/detached
  sleep 0.3
  same "lifecycle: exec -d ran" exec bg ls /tmp/detached
  same "lifecycle: ps table (stable columns)" ps --format 'table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.Names}}\t{{.Labels}}'
  same "lifecycle: ps -q" ps -q
  same "lifecycle: ps -a --no-trunc -q" ps -a --no-trunc -q
  same "lifecycle: ps {{.Label}}" ps --format '{{.Names}} {{.Label "team"}} {{.Label "nope"}}'
  same "lifecycle: ps table {{.Label}} titles" ps --format 'table {{.Label "team"}}\t{{.Label "com.example.tier"}}\t{{.Names}}'
  same "lifecycle: ps --filter" ps -a --filter label=tier=web --format '{{.Names}}'
  same "lifecycle: ps -n and -l" ps -l --format '{{.Names}} {{.State}}'
  same "lifecycle: ps json" ps --format '{{json .Names}} {{json .Labels}} {{.Mounts}} {{.Networks}}'
  same "lifecycle: inspect" inspect bg
  same "lifecycle: inspect --format" inspect --format '{{.Name}} {{.State.Running}} {{.Config.Cmd}} {{json .Config.Labels}} {{index .Config.Labels "team"}} {{range .Config.Env}}[{{.}}]{{end}}' bg
  same "lifecycle: inspect --type" inspect --type image --format '{{.Id}} {{.Config.Cmd}}' busybox
  same "lifecycle: inspect a missing object" inspect no-such-thing
  same "lifecycle: inspect nil slices and maps" inspect -f '{{.Config.Entrypoint}}|{{.HostConfig.Binds}}|{{.HostConfig.CapAdd}}|{{.Config.Volumes}}|{{.HostConfig.Tmpfs}}|{{.State.Health}}|{{.Config.Labels.nope}}' bg
  same "lifecycle: inspect a missing key" inspect -f 'x {{.Config.NoSuch}}' bg
  same "lifecycle: inspect printf and title" inspect -f '{{printf "%-10s|%5d|%05d|%x" .Name 42 42 255}} {{title "foo-bar x.y"}}' bg
  same "lifecycle: inspect a missing container" inspect --type container no-such-thing
  same "lifecycle: container inspect" container inspect -f '{{.Config.Image}}' bg
  same "lifecycle: top" top bg
  same "lifecycle: stats --no-stream format" stats --no-stream --format '{{.Name}} {{.ID}}' bg
  expect "lifecycle: pause" 0 '^bg$' "$BERTH" pause bg
  expect "lifecycle: paused state" 0 '^paused$' "$BERTH" inspect -f '{{.State.Status}}' bg
  expect "lifecycle: unpause" 0 '^bg$' "$BERTH" unpause bg
  expect "lifecycle: rename" 0 '^$' "$BERTH" rename bg bg2
  same "lifecycle: rename to a missing container" rename nope x
  same "lifecycle: kill -s" kill -s USR2 bg2
  same "lifecycle: stop -t" stop -t 1 bg2
  same "lifecycle: wait on a stopped container" wait bg2
  same "lifecycle: stop a stopped container (304)" stop bg2
  same "lifecycle: start" start bg2
  same "lifecycle: start a running container (304)" start bg2
  same "lifecycle: restart -t" restart -t 0 bg2
  same "lifecycle: rm a running container" rm bg2
  expect "lifecycle: rm -f" 0 '^bg2$' "$BERTH" rm -f bg2
  same "lifecycle: rm missing" rm no-such-a no-such-b
  "$BERTH" create --name cr busybox sh -c 'echo created-then-started; exit 6' >/dev/null
  same "lifecycle: create then start -a" start -a cr
  same "lifecycle: ps -a of exited" ps -a --filter name=cr --format '{{.Names}} {{.State}} {{.Command}}'
  "$BERTH" rm cr >/dev/null
  "$BERTH" run -d --name w5 busybox sh -c 'sleep 0.5; exit 5' >/dev/null
  expect "lifecycle: wait returns the exit code" 0 '^5$' "$BERTH" wait w5
  "$BERTH" rm w5 >/dev/null
  same "lifecycle: stop missing" stop no-such
  same "lifecycle: kill missing" kill no-such
  same "lifecycle: start missing" start no-such
  same "lifecycle: logs missing" logs no-such
  same "lifecycle: stop without arguments" stop
  same "lifecycle: rename with one argument" rename a
fi

# ---- attach ---------------------------------------------------------------------------------
if wanted "attach"; then
  "$BERTH" run -d -i --name att busybox sh -c 'read line; echo "got $line"; exit 9' >/dev/null
  out=$( (echo hello; sleep 1) | timeout 30 "$BERTH" attach att)
  rc=$?
  [[ "$out" == "got hello" && $rc -eq 9 ]] && ok "attach: stdin, output, exit status" || not_ok "attach: stdin, output, exit status" "exit $rc" "$out"
  "$BERTH" rm -f att >/dev/null
  same "attach: a stopped container" attach no-such
fi

# ---- cp -------------------------------------------------------------------------------------
if wanted "cp"; then
  "$BERTH" run -d --name cpc busybox sleep 1000 >/dev/null
  mkdir -p "$CLI_ENV_DIR/cp/dir/sub" "$CLI_ENV_DIR/out-b" "$CLI_ENV_DIR/out-d"
  echo file-content >"$CLI_ENV_DIR/cp/file.txt"
  echo nested >"$CLI_ENV_DIR/cp/dir/sub/n.txt"
  expect "cp: file into the container" 0 '^$' "$BERTH" cp "$CLI_ENV_DIR/cp/file.txt" cpc:/tmp/
  same "cp: file arrived" exec cpc cat /tmp/file.txt
  expect "cp: file to a new name" 0 '^$' "$BERTH" cp "$CLI_ENV_DIR/cp/file.txt" cpc:/tmp/renamed.txt
  same "cp: renamed file arrived" exec cpc cat /tmp/renamed.txt
  expect "cp: directory into the container" 0 '^$' "$BERTH" cp "$CLI_ENV_DIR/cp/dir" cpc:/tmp/newdir
  same "cp: directory arrived" exec cpc find /tmp/newdir
  "$BERTH" cp cpc:/etc/passwd "$CLI_ENV_DIR/out-b/pw"
  "$DOCKER" cp cpc:/etc/passwd "$CLI_ENV_DIR/out-d/pw"
  cmp -s "$CLI_ENV_DIR/out-b/pw" "$CLI_ENV_DIR/out-d/pw" && ok "cp: file out of the container" || not_ok "cp: file out of the container" "differs from docker cp"
  "$BERTH" cp cpc:/tmp/newdir "$CLI_ENV_DIR/out-b/"
  "$DOCKER" cp cpc:/tmp/newdir "$CLI_ENV_DIR/out-d/"
  d=$(diff -r "$CLI_ENV_DIR/out-b" "$CLI_ENV_DIR/out-d" 2>&1)
  [[ -z "$d" && -f "$CLI_ENV_DIR/out-b/newdir/sub/n.txt" ]] && ok "cp: directory out of the container" || not_ok "cp: directory out of the container" "differs from docker cp" "$d"
  "$BERTH" cp cpc:/tmp/newdir "$CLI_ENV_DIR/out-b/copy2"
  [[ -f "$CLI_ENV_DIR/out-b/copy2/sub/n.txt" ]] && ok "cp: directory out to a new name" || not_ok "cp: directory out to a new name" "$(find "$CLI_ENV_DIR/out-b")"
  b=$("$BERTH" cp cpc:/etc/hostname - | tar -tf -)
  [[ "$b" == hostname ]] && ok "cp: to stdout as tar" || not_ok "cp: to stdout as tar" "got $b"
  same "cp: missing source" cp cpc:/no/such/file "$CLI_ENV_DIR/out-b/x"
  "$BERTH" exec cpc sh -c 'ln -s /etc/passwd /tmp/abs-link; ln -s ../etc/group /tmp/rel-link'
  mkdir -p "$CLI_ENV_DIR/cpL-b" "$CLI_ENV_DIR/cpL-d"
  for c in "$BERTH" "$DOCKER"; do
    d="$CLI_ENV_DIR/cpL-b"; [[ $c == "$DOCKER" ]] && d="$CLI_ENV_DIR/cpL-d"
    "$c" cp -L cpc:/tmp/abs-link "$d/" && "$c" cp -L cpc:/tmp/rel-link "$d/rel-copy" && "$c" cp cpc:/tmp/abs-link "$d/nofollow"
  done
  d=$(diff -r --no-dereference "$CLI_ENV_DIR/cpL-b" "$CLI_ENV_DIR/cpL-d" 2>&1)
  if [[ -z "$d" && -f "$CLI_ENV_DIR/cpL-b/abs-link" && ! -L "$CLI_ENV_DIR/cpL-b/abs-link" && -f "$CLI_ENV_DIR/cpL-b/rel-copy" && -L "$CLI_ENV_DIR/cpL-b/nofollow" ]]; then ok "cp: -L follows a container symlink"
  else not_ok "cp: -L follows a container symlink" "differs from docker cp -L" "$d$(ls -l "$CLI_ENV_DIR/cpL-b")"; fi
  same "cp: missing container" cp nocontainer:/etc/passwd "$CLI_ENV_DIR/out-b/x"
  "$BERTH" rm -f cpc >/dev/null
fi

# ---- images ---------------------------------------------------------------------------------
same_sorted "images: table" images
same_sorted "images: -q" images -q
same_sorted "images: --no-trunc" images --no-trunc
same_sorted "images: json" images --format '{{json .}}'
same_sorted "images: reference argument" images busybox
same_sorted "images: image ls --filter" image ls --filter reference=busybox --format '{{.Repository}}:{{.Tag}} {{.ID}}'
same "images: tag" tag busybox localhost/tagged:v1
same "images: tagged" images localhost/tagged
expect "images: rmi untags" 0 '^Untagged: localhost/tagged:v1$' "$BERTH" rmi localhost/tagged:v1
same "images: rmi missing" rmi no-such-image
same "images: tag missing" tag no-such-image x:1
same "images: history" history busybox
same "images: history --no-trunc -q" history -q --no-trunc busybox
same "images: image inspect" image inspect busybox
if wanted "images: save and load"; then
  "$BERTH" save -o "$CLI_ENV_DIR/saved.tar" busybox
  if grep -qx manifest.json < <(tar -tf "$CLI_ENV_DIR/saved.tar"); then ok "images: save -o"; else not_ok "images: save -o" "no manifest.json in the archive"; fi
  "$BERTH" save busybox >"$CLI_ENV_DIR/saved2.tar"
  cmp -s "$CLI_ENV_DIR/saved.tar" "$CLI_ENV_DIR/saved2.tar" && ok "images: save to stdout" || not_ok "images: save to stdout" "differs from save -o"
  expect "images: save missing image leaves no file" 1 'No such image' "$BERTH" save -o "$CLI_ENV_DIR/nofile.tar" no-such-image
  [[ ! -e "$CLI_ENV_DIR/nofile.tar" ]] || not_ok "images: save missing image leaves no file" "file left behind"
  "$DOCKER" tag busybox localhost/loadme:1
  "$DOCKER" save -o "$CLI_ENV_DIR/loadme.tar" localhost/loadme:1
  "$DOCKER" rmi localhost/loadme:1 >/dev/null
  b=$("$BERTH" load -i "$CLI_ENV_DIR/loadme.tar"); "$DOCKER" rmi localhost/loadme:1 >/dev/null
  d=$("$DOCKER" load -i "$CLI_ENV_DIR/loadme.tar")
  [[ "$b" == "$d" ]] && ok "images: load -i" || not_ok "images: load -i" "differs from docker's" "$(diff <(echo "$d") <(echo "$b"))"
  "$DOCKER" rmi localhost/loadme:1 >/dev/null
  b=$("$BERTH" load <"$CLI_ENV_DIR/loadme.tar")
  [[ "$b" == "$d" ]] && ok "images: load from stdin" || not_ok "images: load from stdin" "got: $b"
  "$DOCKER" rmi localhost/loadme:1 >/dev/null
fi

# ---- pull and push through a local registry -------------------------------------------------
if wanted "registry"; then
  if ! command -v docker-registry >/dev/null; then
    skip "registry: pull and push" "docker-registry not installed"
  else
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    mkdir -p "$CLI_ENV_DIR/registry"
    printf 'version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: %s\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:%s\n' \
      "$CLI_ENV_DIR/registry/data" "$port" >"$CLI_ENV_DIR/registry/config.yml"
    docker-registry serve "$CLI_ENV_DIR/registry/config.yml" >"$CLI_ENV_DIR/registry/log" 2>&1 &
    regpid=$!
    for ((i = 0; i < 50; i++)); do curl -sf "http://127.0.0.1:$port/v2/" >/dev/null && break; sleep 0.1; done
    R=127.0.0.1:$port
    # An image of its own (a random 3 MB layer on busybox), so that pulls download a layer.
    "$DOCKER" run --name mk busybox sh -c 'head -c 3000000 /dev/urandom >/big' >/dev/null
    "$DOCKER" commit mk $R/big:1 >/dev/null
    "$DOCKER" rm mk >/dev/null
    expect "registry: push" 0 "1: digest: sha256:[0-9a-f]{64} size: [0-9]+" "$BERTH" push $R/big:1
    "$BERTH" rmi $R/big:1 >/dev/null
    # dockerd sends "Verifying Checksum" / "Download complete" or not, depending on timing.
    timing='(Verifying Checksum|Download complete)$'
    b=$("$BERTH" pull $R/big:1 2>&1); b_rc=$?
    b=$(grep -Ev "$timing" <<<"$b")
    "$BERTH" rmi $R/big:1 >/dev/null
    d=$("$DOCKER" pull $R/big:1 2>&1 | grep -Ev "$timing")
    if [[ $b_rc -eq 0 && "$b" == "$d" && "$b" == *"Pull complete"* ]]; then ok "registry: pull (plain lines, as docker)"
    else not_ok "registry: pull (plain lines, as docker)" "exit $b_rc" "$(diff <(echo "$d") <(echo "$b"))"; fi
    "$BERTH" rmi $R/big:1 >/dev/null
    expect "registry: pull -q" 0 "^$R/big:1\$" "$BERTH" pull -q $R/big:1
    "$BERTH" rmi $R/big:1 >/dev/null
    expect "registry: run pulls a missing image" 0 "Unable to find image '$R/big:1' locally.*Pull complete.*Status: Downloaded newer image for $R/big:1.*hi-from-pulled" \
      "$BERTH" run --rm $R/big:1 echo hi-from-pulled
    if wanted "registry: pull on a tty"; then
      "$BERTH" rmi $R/big:1 >/dev/null
      out=$(script -qefc "$BERTH pull $R/big:1" /dev/null </dev/null 2>&1)
      [[ "$out" == *$'\e['* && "$out" == *"Pull complete"* ]] && ok "registry: pull on a tty" || not_ok "registry: pull on a tty" "no cursor movement or no Pull complete" "$out"
    fi
    "$BERTH" rmi $R/big:1 >/dev/null
    same "registry: pull of a missing tag" pull $R/big:nope
    same "registry: pull -a with a tag" pull -a $R/big:1
    # -a pulls every tag of the repository (the CLI sends no tag).
    "$BERTH" pull -q $R/big:1 >/dev/null
    "$DOCKER" tag $R/big:1 $R/big:2 && "$DOCKER" push -q $R/big:2 >/dev/null
    "$DOCKER" rmi $R/big:1 $R/big:2 >/dev/null
    "$BERTH" pull -a -q $R/big >/dev/null 2>&1
    expect "registry: pull -a got both tags" 0 "^$R/big:1"$'\n'"$R/big:2\$" sh -c "\"$BERTH\" images $R/big --format '{{.Repository}}:{{.Tag}}' | sort"
    "$BERTH" rmi $R/big:1 $R/big:2 >/dev/null 2>&1
    kill $regpid 2>/dev/null
    wait $regpid 2>/dev/null
  fi
fi

# ---- events ---------------------------------------------------------------------------------
if wanted "events"; then
  since=$(date +%s)
  id=$("$BERTH" run -d --name ev busybox true)
  "$BERTH" wait ev >/dev/null
  "$BERTH" rm ev >/dev/null
  until=$(($(date +%s) + 1))
  sleep 1.1
  same "events: --since --until --filter --format" events --since "$since" --until "$until" --filter container=$id --format '{{.Type}} {{.Action}} {{.Actor.Attributes.name}}'
  same "events: default format" events --since "$since" --until "$until" --filter container=$id --filter event=destroy
  same "events: json" events --since "$since" --until "$until" --filter container=$id --filter event=create --format '{{json .}}'
fi

# ---- system ---------------------------------------------------------------------------------
same "system: system df" system df
same "system: info --format" info --format '{{.ServerVersion}} {{.Driver}} {{.NCPU}}'
same "system: version --format" version --format '{{.Server.Version}} {{.Server.Os}}'
same "system: version --format with Go field names" version --format '{{.Server.APIVersion}} {{.Client.APIVersion}} {{.Server.MinAPIVersion}} {{.Server.KernelVersion}} {{.Server.Arch}}'
expect "system: --version" 0 '^berth version [0-9.]+$' "$BERTH" --version
expect "system: version" 0 'Client:.*API version: +1\.41 \(downgraded from 1\.47\).*Server:.*Engine:' "$BERTH" version
same "system: unknown command" no-such-command
expect "system: no daemon" 1 '^Cannot connect to the berth daemon at unix:///nonexistent.sock. Is the berth daemon running\?$' \
  env BERTH_HOST=unix:///nonexistent.sock "$BERTH" ps
expect "system: -H beats the environment" 0 'CONTAINER ID' env BERTH_HOST=unix:///nonexistent.sock "$BERTH" -H "$DOCKER_HOST" ps
expect "system: DOCKER_HOST is used" 0 'CONTAINER ID' "$BERTH" ps
"$BERTH" run -d --name pr busybox true >/dev/null; "$BERTH" wait pr >/dev/null
expect "system: container prune -f" 0 'Deleted Containers:.*Total reclaimed space' "$BERTH" container prune -f
expect "system: system prune -f" 0 'Total reclaimed space' "$BERTH" system prune -f
expect "system: image prune -f" 0 'Total reclaimed space' "$BERTH" image prune -f
expect "system: --help of a command" 0 'Usage:  berth run' "$BERTH" run --help

# Nothing left behind by the CLI: every container the scenarios made is gone.
if [[ -z "$FILTER" ]]; then
  left=$("$DOCKER" ps -aq | wc -l)
  [[ $left -eq 0 ]] && ok "cleanup: no containers left" || not_ok "cleanup: no containers left" "$left left" "$("$DOCKER" ps -a)"
fi

echo "# berth CLI: $PASSED passed, $FAILED failed, $SKIPPED skipped in $(($(date +%s) - T0)) s"
[[ $FAILED -eq 0 ]]
