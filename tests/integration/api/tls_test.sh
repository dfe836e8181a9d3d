#!/usr/bin/env bash
# berthd's tcp:// listener with TLS, for real. A throwaway CA, server certificate (IP:127.0.0.1,
# DNS:localhost) and client certificates made with openssl; berthd on private roots serving
# tcp://127.0.0.1:<free port> with --tlsverify (and a unix socket); then
#   - the docker CLI over TLS: version, info, load, run --rm (attach: a hijacked connection
#     inside TLS), stdin half-closed, megabytes both ways at once, run -d, logs, exec, rm -f;
#   - clients without a certificate or with one from another CA, and plain HTTP, refused while
#     berthd keeps serving; berthd refusing tcp:// without TLS and unreadable TLS files;
#   - the berth CLI: the same scenarios, -it on a terminal, its flags, environment and
#     defaults as docker's, and its errors (missing files, refused handshakes, an untrusted or
#     misnamed daemon certificate, TLS to a plain server).
# Each check prints "ok - tls: NAME" or "not ok - tls: NAME: WHY". Everything the test makes
# (berthd, containers, shims, mounts, cgroups, helper servers, the temp dir) is removed on exit,
# failed or not. Exits 0 when every check passed, 1 when one failed, 77 (ctest's skip) with
# "skipped: <reason>" when something it needs is missing.
#
#   tests/integration/api/tls_test.sh BIN_DIR     (BIN_DIR holds berthd, berth, berth-shim,
#                                                  berth-runtime)
set -uo pipefail
BIN=$(readlink -f "${1:?usage: tls_test.sh BIN_DIR}")
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BERTHD=$BIN/berthd
BERTH=$BIN/berth
DOCKER=${DOCKER_CLI:-/usr/local/bin/docker}
# shellcheck disable=SC2034  # lib.sh prefixes its lines with it
ENGINE=tls
# shellcheck source=../../compat/lib.sh
source "$HERE/../../compat/lib.sh"
CMD_TIMEOUT=${TLS_CMD_TIMEOUT:-60}

skipped() {
  echo "skipped: $1"
  exit 77
}
[[ $(id -u) -eq 0 ]] || skipped "needs root (berthd runs containers)"
for f in "$BERTHD" "$BERTH" "$BIN/berth-shim" "$BIN/berth-runtime"; do
  [[ -x "$f" ]] || skipped "$f is not built"
done
[[ -x "$DOCKER" ]] || skipped "no docker CLI at $DOCKER"
for tool in openssl python3 curl jq script timeout tar sha256sum pgrep; do
  command -v "$tool" >/dev/null || skipped "$tool not found"
done
[[ -x "$BUSYBOX" ]] || skipped "$BUSYBOX not found (apt-get install busybox-static)"

WORK=$(mktemp -d /tmp/berth-tls-test.XXXXXX)
chmod 0711 "$WORK"
CERTS=$WORK/certs
mkdir -p "$CERTS" "$WORK/data" "$WORK/exec" "$WORK/docker-config" "$WORK/home" "$WORK/empty"
BERTHD_PID=""
HELPER_PIDS=()
SOCK=unix://$WORK/exec/berth.sock
IMG=$IMAGE_REF
# Private client configuration: nothing from the caller's environment or home reaches the
# clients unless a check sets it.
export HOME=$WORK/home DOCKER_CONFIG=$WORK/docker-config DOCKER_CLI_HINTS=false
unset DOCKER_HOST DOCKER_TLS DOCKER_TLS_VERIFY DOCKER_CERT_PATH DOCKER_CONTEXT BERTH_HOST \
  DOCKER_API_VERSION

# Containers of this berthd: removed through the API, then whatever is left (shims, mounts,
# cgroups) removed by hand.
cleanup() {
  local ids=() id pid
  if [[ -n "$BERTHD_PID" ]] && kill -0 "$BERTHD_PID" 2>/dev/null; then
    mapfile -t ids < <(timeout -k 5 30 "$DOCKER" -H "$SOCK" ps -aq --no-trunc 2>/dev/null)
    ((${#ids[@]})) && timeout -k 5 60 "$DOCKER" -H "$SOCK" rm -f "${ids[@]}" >/dev/null 2>&1
    kill -TERM "$BERTHD_PID" 2>/dev/null
    wait_for 20 bash -c "! kill -0 $BERTHD_PID" || kill -KILL "$BERTHD_PID" 2>/dev/null
    wait "$BERTHD_PID" 2>/dev/null
  fi
  for pid in "${HELPER_PIDS[@]}"; do
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  done
  kill_strays
  for id in "${ids[@]}"; do
    for d in /sys/fs/cgroup/*/berth/"$id" /sys/fs/cgroup/berth/"$id"; do
      [[ -d "$d" ]] && rmdir "$d" 2>/dev/null
    done
  done
  if [[ $FAILED -gt 0 && -f "$WORK/berthd.log" ]]; then
    echo "# tls: last lines of berthd.log:"
    tail -n 15 "$WORK/berthd.log" | sed 's/^/#   /'
  fi
  cleanup_workdir
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# --- certificates ---------------------------------------------------------------------------

# make_ca NAME: NAME.pem, NAME-key.pem.
make_ca() {
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
    -subj "/CN=berth test $1" -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -keyout "$CERTS/$1-key.pem" -out "$CERTS/$1.pem" 2>/dev/null
}

# make_cert CA NAME EXTENSIONS: NAME-cert.pem, NAME-key.pem signed by CA.
make_cert() {
  local ca=$1 name=$2 ext=$3
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=$name" \
    -keyout "$CERTS/$name-key.pem" -out "$CERTS/$name.csr" 2>/dev/null &&
    printf '%b' "$ext" >"$CERTS/$name.ext" &&
    openssl x509 -req -in "$CERTS/$name.csr" -CA "$CERTS/$ca.pem" -CAkey "$CERTS/$ca-key.pem" \
      -CAcreateserial -days 2 -extfile "$CERTS/$name.ext" -out "$CERTS/$name-cert.pem" 2>/dev/null
}

if ! { make_ca ca && make_ca other-ca &&
  make_cert ca server 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' &&
  make_cert ca client 'extendedKeyUsage=clientAuth\n' &&
  make_cert other-ca stranger 'extendedKeyUsage=clientAuth\n' &&
  make_cert ca misnamed 'subjectAltName=DNS:other.example\nextendedKeyUsage=serverAuth\n'; }; then
  skipped "openssl could not make the test certificates"
fi
TLS_SERVER=(--tlsverify --tlscacert "$CERTS/ca.pem" --tlscert "$CERTS/server-cert.pem"
  --tlskey "$CERTS/server-key.pem")
CLIENT_FLAGS=(--tlsverify --tlscacert "$CERTS/ca.pem" --tlscert "$CERTS/client-cert.pem"
  --tlskey "$CERTS/client-key.pem")

# --- berthd refusing to start ----------------------------------------------------------------

run_cmd "$BERTHD" --data-root "$WORK/refused-root" --exec-root "$WORK/refused-exec" \
  -H "tcp://127.0.0.1:$(free_port)"
if [[ $RC -ne 0 && "$OUT" == *"tcp:// hosts need --tlsverify with --tlscacert, --tlscert and --tlskey"* &&
  ! -e "$WORK/refused-root" ]]; then
  ok "berthd: tcp:// without TLS flags is refused"
else not_ok "berthd: tcp:// without TLS flags is refused" "exit $RC"; fi

run_cmd "$BERTHD" --data-root "$WORK/refused-root" --exec-root "$WORK/refused-exec" \
  -H "tcp://127.0.0.1:$(free_port)" --tlsverify --tlscacert "$CERTS/ca.pem" \
  --tlscert "$CERTS/server-cert.pem" --tlskey "$WORK/nope/key.pem"
want="could not read TLS key \"$WORK/nope/key.pem\": open $WORK/nope/key.pem: no such file or directory"
if [[ $RC -ne 0 && "$OUT" == *"$want"* && ! -e "$WORK/refused-root" ]]; then
  ok "berthd: a missing TLS key is refused before the data root is touched"
else not_ok "berthd: a missing TLS key is refused before the data root is touched" "exit $RC, want '$want'"; fi

run_cmd "$BERTHD" --data-root "$WORK/refused-root" --exec-root "$WORK/refused-exec" \
  -H "tcp://127.0.0.1:$(free_port)" --tlsverify --tlscacert "$CERTS/ca.pem" \
  --tlscert "$CERTS/server-cert.pem" --tlskey "$CERTS/client-key.pem"
if [[ $RC -ne 0 && "$OUT" == *"could not load X509 key pair (cert \"$CERTS/server-cert.pem\", key \"$CERTS/client-key.pem\")"* ]]; then
  ok "berthd: a key that does not match the certificate is refused"
else not_ok "berthd: a key that does not match the certificate is refused" "exit $RC"; fi

# --- berthd on TLS ---------------------------------------------------------------------------

start_berthd() {
  for _ in 1 2 3; do  # another process may take the free port first
    PORT=$(free_port)
    "$BERTHD" --data-root "$WORK/data" --exec-root "$WORK/exec" --pidfile "$WORK/berthd.pid" \
      -H "$SOCK" -H "tcp://127.0.0.1:$PORT" "${TLS_SERVER[@]}" >>"$WORK/berthd.log" 2>&1 </dev/null &
    BERTHD_PID=$!
    if wait_for 20 "$DOCKER" -H "$SOCK" version; then return 0; fi
    kill -KILL "$BERTHD_PID" 2>/dev/null
    wait "$BERTHD_PID" 2>/dev/null
    BERTHD_PID=""
  done
  return 1
}
if ! start_berthd; then
  OUT=$(tail -n 10 "$WORK/berthd.log")
  not_ok "berthd: serves unix:// and tcp:// with TLS" "it did not answer within 20 s"
  finish
  exit 1
fi
ok "berthd: serves unix:// and tcp:// with TLS"
TCP=tcp://127.0.0.1:$PORT

dk() { run_cmd "$DOCKER" "${CLIENT_FLAGS[@]}" -H "$TCP" "$@"; }
bt() { run_cmd "$BERTH" "${CLIENT_FLAGS[@]}" -H "$TCP" "$@"; }

# --- the docker CLI over TLS -----------------------------------------------------------------

dk version --format '{{.Server.APIVersion}}'
if [[ $RC -eq 0 && "$OUT" == 1.47 ]]; then ok "docker: version"
else not_ok "docker: version" "exit $RC"; fi

dk info --format '{{.ServerVersion}} {{.OSType}}'
if [[ $RC -eq 0 && "$OUT" == *" linux" ]]; then ok "docker: info"
else not_ok "docker: info" "exit $RC"; fi

if build_image_archive "$WORK" >/dev/null 2>&1; then
  dk load -i "$WORK/image.tar"
  if [[ $RC -eq 0 && "$OUT" == *"Loaded image: $IMG"* ]]; then ok "docker: load (a chunked upload)"
  else not_ok "docker: load (a chunked upload)" "exit $RC"; fi
else
  OUT=""
  not_ok "docker: load (a chunked upload)" "could not build the image archive"
fi

dk run --rm "$IMG" echo hi-over-tls
if [[ $RC -eq 0 && "$OUT" == hi-over-tls ]]; then ok "docker: run --rm (attach hijacked inside TLS)"
else not_ok "docker: run --rm (attach hijacked inside TLS)" "exit $RC"; fi

dk run --rm "$IMG" sh -c 'echo to-stderr >&2; exit 3'
if [[ $RC -eq 3 && "$OUT" == to-stderr ]]; then ok "docker: run --rm: stderr and exit status"
else not_ok "docker: run --rm: stderr and exit status" "exit $RC, want 3"; fi

# docker's CLI ends stdin with a bare TCP half-close under TLS: the container must see EOF and
# its output must still come back.
OUT=$(printf 'one\ntwo\n' | timeout -k 5 "$CMD_TIMEOUT" "$DOCKER" "${CLIENT_FLAGS[@]}" -H "$TCP" \
  run --rm -i "$IMG" sh -c 'cat; echo after-eof' 2>&1)
RC=$?
if [[ $RC -eq 0 && "$OUT" == $'one\ntwo\nafter-eof' ]]; then ok "docker: run -i: stdin to EOF, output after it"
else not_ok "docker: run -i: stdin to EOF, output after it" "exit $RC"; fi

# Megabytes in and out at the same time: neither direction of the TLS proxy may wait on the
# other.
head -c 6000000 /dev/urandom | base64 -w 76 >"$WORK/big.txt"
want_sum=$(sha256sum <"$WORK/big.txt" | cut -d' ' -f1)
got_sum=$(timeout -k 5 "$CMD_TIMEOUT" "$DOCKER" "${CLIENT_FLAGS[@]}" -H "$TCP" run --rm -i "$IMG" cat \
  <"$WORK/big.txt" 2>"$WORK/big.err" | sha256sum | cut -d' ' -f1)
if [[ "$got_sum" == "$want_sum" ]]; then ok "docker: run -i: 8 MB through cat, both ways at once"
else OUT=$(cat "$WORK/big.err"); not_ok "docker: run -i: 8 MB through cat, both ways at once" "checksum differs"; fi

dk run -d --name tls-docker-d "$IMG" sh -c 'echo out; echo err >&2; sleep 300'
if [[ $RC -eq 0 ]] && wait_for 10 bash -c "'$DOCKER' ${CLIENT_FLAGS[*]} -H $TCP logs tls-docker-d 2>&1 | grep -qx err"; then
  dk logs tls-docker-d
  if [[ "$OUT" == *out* && "$OUT" == *err* ]]; then ok "docker: run -d + logs"
  else not_ok "docker: run -d + logs" "logs missing a line"; fi
else not_ok "docker: run -d + logs" "exit $RC"; fi

dk exec tls-docker-d sh -c 'echo in-$((1+1))'
if [[ $RC -eq 0 && "$OUT" == in-2 ]]; then ok "docker: exec"
else not_ok "docker: exec" "exit $RC"; fi

OUT=$(echo piped-in | timeout -k 5 "$CMD_TIMEOUT" "$DOCKER" "${CLIENT_FLAGS[@]}" -H "$TCP" \
  exec -i tls-docker-d cat 2>&1)
RC=$?
if [[ $RC -eq 0 && "$OUT" == piped-in ]]; then ok "docker: exec -i"
else not_ok "docker: exec -i" "exit $RC"; fi

dk rm -f tls-docker-d
if [[ $RC -eq 0 && "$OUT" == tls-docker-d ]] && ! "$DOCKER" -H "$SOCK" inspect tls-docker-d >/dev/null 2>&1; then
  ok "docker: rm -f"
else not_ok "docker: rm -f" "exit $RC"; fi

# --- refused clients; berthd goes on --------------------------------------------------------

# docker 28 leaves the client certificate out when DOCKER_CONFIG has no cert.pem.
run_cmd "$DOCKER" --tlsverify --tlscacert "$CERTS/ca.pem" -H "$TCP" version --format '{{.Server.APIVersion}}'
if [[ $RC -ne 0 && "$OUT" == *"certificate required"* ]]; then ok "refused: docker without a client certificate"
else not_ok "refused: docker without a client certificate" "exit $RC"; fi

run_cmd "$DOCKER" --tlsverify --tlscacert "$CERTS/ca.pem" --tlscert "$CERTS/stranger-cert.pem" \
  --tlskey "$CERTS/stranger-key.pem" -H "$TCP" version --format '{{.Server.APIVersion}}'
# Go's client offers no certificate the daemon's CA list does not cover ("certificate
# required"); offered anyway, it is "unknown certificate authority".
if [[ $RC -ne 0 && ( "$OUT" == *"certificate required"* || "$OUT" == *"unknown certificate authority"* ) ]]; then
  ok "refused: docker with a certificate from another CA"
else not_ok "refused: docker with a certificate from another CA" "exit $RC"; fi

run_cmd "$DOCKER" -H "$TCP" version --format '{{.Server.APIVersion}}'
if [[ $RC -ne 0 && "$OUT" == *"berthd serves TLS on this address, and the client sent plain HTTP"* ]]; then
  ok "refused: docker speaking plain HTTP is told so"
else not_ok "refused: docker speaking plain HTTP is told so" "exit $RC"; fi

code=$(curl -s -o "$WORK/plain.out" -w '%{http_code}' "http://127.0.0.1:$PORT/_ping")
if [[ "$code" == 400 ]] && grep -q "client sent plain HTTP" "$WORK/plain.out"; then
  ok "refused: plain HTTP answered 400"
else OUT=$(cat "$WORK/plain.out" 2>/dev/null); not_ok "refused: plain HTTP answered 400" "HTTP $code"; fi

# A client that connects and goes away, and one that sends garbage.
python3 - "$PORT" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1]))); s.close()
s = socket.create_connection(("127.0.0.1", int(sys.argv[1]))); s.sendall(b"\x16\x03\x01\x00\x05hello"); s.close()
PY

dk version --format '{{.Server.APIVersion}}'
if [[ $RC -eq 0 && "$OUT" == 1.47 ]] && kill -0 "$BERTHD_PID" 2>/dev/null; then
  ok "berthd: still serving after the refused clients"
else not_ok "berthd: still serving after the refused clients" "exit $RC"; fi

# --- the berth CLI over TLS -------------------------------------------------------------------

bt version --format '{{.Server.Os}}'
if [[ $RC -eq 0 && "$OUT" == linux ]]; then ok "berth: version with --tlsverify and the files as flags"
else not_ok "berth: version with --tlsverify and the files as flags" "exit $RC"; fi

mkdir -p "$WORK/certpath" "$WORK/home/.docker"
for d in "$WORK/certpath" "$WORK/home/.docker"; do
  cp "$CERTS/ca.pem" "$d/ca.pem"
  cp "$CERTS/client-cert.pem" "$d/cert.pem"
  cp "$CERTS/client-key.pem" "$d/key.pem"
done
run_cmd env DOCKER_TLS_VERIFY=1 DOCKER_CERT_PATH="$WORK/certpath" DOCKER_HOST="$TCP" \
  "$BERTH" info --format '{{.OSType}}'
if [[ $RC -eq 0 && "$OUT" == linux ]]; then ok "berth: DOCKER_TLS_VERIFY, DOCKER_CERT_PATH and DOCKER_HOST"
else not_ok "berth: DOCKER_TLS_VERIFY, DOCKER_CERT_PATH and DOCKER_HOST" "exit $RC"; fi

run_cmd env -u DOCKER_CONFIG "$BERTH" --tlsverify -H "$TCP" ps -a --format '{{.Names}}'
if [[ $RC -eq 0 ]]; then ok "berth: --tlsverify with the files from ~/.docker"
else not_ok "berth: --tlsverify with the files from ~/.docker" "exit $RC"; fi

# --tlsverify=false on the command line: TLS, the daemon's certificate not checked (the CA
# given would not trust it).
run_cmd "$BERTH" --tlsverify=false --tlscacert "$CERTS/other-ca.pem" --tlscert "$CERTS/client-cert.pem" \
  --tlskey "$CERTS/client-key.pem" -H "$TCP" version --format '{{.Server.Os}}'
if [[ $RC -eq 0 && "$OUT" == linux ]]; then ok "berth: --tlsverify=false is TLS without verification"
else not_ok "berth: --tlsverify=false is TLS without verification" "exit $RC"; fi

run_cmd "$BERTH" --tls --tlscert "$CERTS/client-cert.pem" --tlskey "$CERTS/client-key.pem" \
  -H "tcp://localhost:$PORT" version --format '{{.Server.Os}}'
if [[ $RC -eq 0 && "$OUT" == linux ]]; then ok "berth: --tls (no verification) to tcp://localhost"
else not_ok "berth: --tls (no verification) to tcp://localhost" "exit $RC"; fi

run_cmd "$BERTH" "${CLIENT_FLAGS[@]}" -H "tcp://localhost:$PORT" version --format '{{.Server.Os}}'
if [[ $RC -eq 0 && "$OUT" == linux ]]; then ok "berth: the daemon's DNS name checked (localhost)"
else not_ok "berth: the daemon's DNS name checked (localhost)" "exit $RC"; fi

bt run --rm "$IMG" echo hi-from-berth
if [[ $RC -eq 0 && "$OUT" == hi-from-berth ]]; then ok "berth: run --rm (attach hijacked inside TLS)"
else not_ok "berth: run --rm (attach hijacked inside TLS)" "exit $RC"; fi

bt run --rm "$IMG" sh -c 'echo to-stderr >&2; exit 3'
if [[ $RC -eq 3 && "$OUT" == to-stderr ]]; then ok "berth: run --rm: stderr and exit status"
else not_ok "berth: run --rm: stderr and exit status" "exit $RC, want 3"; fi

OUT=$(printf 'one\ntwo\n' | timeout -k 5 "$CMD_TIMEOUT" "$BERTH" "${CLIENT_FLAGS[@]}" -H "$TCP" \
  run --rm -i "$IMG" sh -c 'cat; echo after-eof' 2>&1)
RC=$?
if [[ $RC -eq 0 && "$OUT" == $'one\ntwo\nafter-eof' ]]; then ok "berth: run -i: stdin to EOF (close_notify), output after it"
else not_ok "berth: run -i: stdin to EOF (close_notify), output after it" "exit $RC"; fi

got_sum=$(timeout -k 5 "$CMD_TIMEOUT" "$BERTH" "${CLIENT_FLAGS[@]}" -H "$TCP" run --rm -i "$IMG" cat \
  <"$WORK/big.txt" 2>"$WORK/big.err" | sha256sum | cut -d' ' -f1)
if [[ "$got_sum" == "$want_sum" ]]; then ok "berth: run -i: 8 MB through cat, both ways at once"
else OUT=$(cat "$WORK/big.err"); not_ok "berth: run -i: 8 MB through cat, both ways at once" "checksum differs"; fi

run_tty "$(printf '%q ' "$BERTH" "${CLIENT_FLAGS[@]}" -H "$TCP") run -it --rm $IMG sh" \
  $'tty\necho typed-$((40+2))\nexit 4'
if [[ $RC -eq 4 ]] && grep -qx '/dev/pts/[0-9]*' <<<"$OUT" && grep -qx 'typed-42' <<<"$OUT"; then
  ok "berth: run -it: a terminal inside TLS"
else not_ok "berth: run -it: a terminal inside TLS" "exit $RC, expected 4, a /dev/pts/N line and typed-42"; fi

bt run -d --name tls-berth-d "$IMG" sh -c 'echo out; echo err >&2; sleep 300'
if [[ $RC -eq 0 ]] && wait_for 10 bash -c "'$BERTH' ${CLIENT_FLAGS[*]} -H $TCP logs tls-berth-d 2>&1 | grep -qx err"; then
  bt logs tls-berth-d
  if [[ "$OUT" == *out* && "$OUT" == *err* ]]; then ok "berth: run -d + logs"
  else not_ok "berth: run -d + logs" "logs missing a line"; fi
else not_ok "berth: run -d + logs" "exit $RC"; fi

bt exec tls-berth-d sh -c 'echo in-$((1+1)); exit 5'
if [[ $RC -eq 5 && "$OUT" == in-2 ]]; then ok "berth: exec, its output and status"
else not_ok "berth: exec, its output and status" "exit $RC, want 5"; fi

OUT=$(echo piped-in | timeout -k 5 "$CMD_TIMEOUT" "$BERTH" "${CLIENT_FLAGS[@]}" -H "$TCP" \
  exec -i tls-berth-d cat 2>&1)
RC=$?
if [[ $RC -eq 0 && "$OUT" == piped-in ]]; then ok "berth: exec -i"
else not_ok "berth: exec -i" "exit $RC"; fi

bt rm -f tls-berth-d
if [[ $RC -eq 0 && "$OUT" == tls-berth-d ]] && ! "$DOCKER" -H "$SOCK" inspect tls-berth-d >/dev/null 2>&1; then
  ok "berth: rm -f"
else not_ok "berth: rm -f" "exit $RC"; fi

# --- the berth CLI's errors -------------------------------------------------------------------

run_cmd "$BERTH" --tlsverify --tlscacert "$WORK/nope/ca.pem" -H "$TCP" ps
want="could not read CA certificate \"$WORK/nope/ca.pem\": open $WORK/nope/ca.pem: no such file or directory"
if [[ $RC -eq 1 && "$OUT" == "$want" ]]; then ok "berth: a missing CA file is named"
else not_ok "berth: a missing CA file is named" "exit $RC, want '$want'"; fi

run_cmd "$BERTH" "${CLIENT_FLAGS[@]}" --tlscert "$WORK/nope/cert.pem" -H "$TCP" ps
want="could not read TLS certificate \"$WORK/nope/cert.pem\": open $WORK/nope/cert.pem: no such file or directory"
if [[ $RC -eq 1 && "$OUT" == "$want" ]]; then ok "berth: a missing client certificate is named"
else not_ok "berth: a missing client certificate is named" "exit $RC, want '$want'"; fi

run_cmd "$BERTH" --tlsverify --tlscacert "$CERTS/ca.pem" -H "$TCP" ps
if [[ $RC -eq 1 && "$OUT" == "TLS connection to the berth daemon at $TCP failed: the daemon wants a client certificate, and none was given"* ]]; then
  ok "berth: refused without a client certificate, and says so"
else not_ok "berth: refused without a client certificate, and says so" "exit $RC"; fi

run_cmd "$BERTH" --tlsverify --tlscacert "$CERTS/ca.pem" --tlscert "$CERTS/stranger-cert.pem" \
  --tlskey "$CERTS/stranger-key.pem" -H "$TCP" ps
if [[ $RC -eq 1 && "$OUT" == *"at $TCP failed: the daemon refused the client certificate"* ]]; then
  ok "berth: a certificate from another CA is refused, and says so"
else not_ok "berth: a certificate from another CA is refused, and says so" "exit $RC"; fi

run_cmd "$BERTH" --tlsverify --tlscacert "$CERTS/other-ca.pem" --tlscert "$CERTS/client-cert.pem" \
  --tlskey "$CERTS/client-key.pem" -H "$TCP" ps
if [[ $RC -eq 1 && "$OUT" == "TLS handshake with the berth daemon at $TCP failed: the daemon's certificate is not trusted: "* ]]; then
  ok "berth: a daemon certificate from an unknown CA is not trusted"
else not_ok "berth: a daemon certificate from an unknown CA is not trusted" "exit $RC"; fi

run_cmd "$BERTH" -H "$TCP" ps
if [[ $RC -eq 1 && "$OUT" == *"berthd serves TLS on this address, and the client sent plain HTTP"* ]]; then
  ok "berth: plain HTTP to the TLS port is told so"
else not_ok "berth: plain HTTP to the TLS port is told so" "exit $RC"; fi

# A TLS server whose certificate names another host, and a plain HTTP server.
mis_port=$(free_port)
openssl s_server -quiet -www -accept "127.0.0.1:$mis_port" -cert "$CERTS/misnamed-cert.pem" \
  -key "$CERTS/misnamed-key.pem" </dev/null >/dev/null 2>&1 &
HELPER_PIDS+=($!)
plain_port=$(free_port)
python3 -m http.server --bind 127.0.0.1 "$plain_port" >/dev/null 2>&1 </dev/null &
HELPER_PIDS+=($!)
wait_for 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/$mis_port && exec 3<>/dev/tcp/127.0.0.1/$plain_port" || true

run_cmd "$BERTH" "${CLIENT_FLAGS[@]}" -H "tcp://127.0.0.1:$mis_port" ps
want="TLS handshake with the berth daemon at tcp://127.0.0.1:$mis_port failed: the daemon's certificate is not trusted: it is not valid for 127.0.0.1 (it is valid for other.example)"
if [[ $RC -eq 1 && "$OUT" == "$want" ]]; then ok "berth: a daemon certificate for another name is refused"
else not_ok "berth: a daemon certificate for another name is refused" "exit $RC, want '$want'"; fi

run_cmd "$BERTH" "${CLIENT_FLAGS[@]}" -H "tcp://127.0.0.1:$plain_port" ps
if [[ $RC -eq 1 && "$OUT" == *"the daemon does not speak TLS on this port"* ]]; then
  ok "berth: TLS to a plain HTTP server is told so"
else not_ok "berth: TLS to a plain HTTP server is told so" "exit $RC"; fi

run_cmd "$BERTH" --tlsverify --tlscacert "$WORK/nope/ca.pem" -H "$SOCK" version --format '{{.Server.Os}}'
if [[ $RC -eq 0 && "$OUT" == linux ]]; then ok "berth: TLS settings do not apply to a unix socket"
else not_ok "berth: TLS settings do not apply to a unix socket" "exit $RC"; fi

run_cmd "$BERTH" --help
if [[ $RC -eq 0 && "$OUT" == *--tlsverify* && "$OUT" == *--tlscacert* && "$OUT" == *--tlscert* &&
  "$OUT" == *--tlskey* && "$OUT" == *"--tls "* && "$OUT" == *"$DOCKER_CONFIG/ca.pem"* ]]; then
  ok "berth: --help lists the TLS flags and their defaults"
else not_ok "berth: --help lists the TLS flags and their defaults" "exit $RC"; fi

if grep -q "TLS handshake error from 127.0.0.1:[0-9]*: the client sent no certificate" "$WORK/berthd.log" &&
  grep -q "TLS handshake error from 127.0.0.1:[0-9]*: the client's certificate is not trusted: " "$WORK/berthd.log" &&
  grep -q "TLS handshake error from 127.0.0.1:[0-9]*: the client sent plain HTTP" "$WORK/berthd.log"; then
  ok "berthd: logs refused handshakes with the peer and the reason"
else OUT=$(grep -i tls "$WORK/berthd.log" | tail -n 5); not_ok "berthd: logs refused handshakes with the peer and the reason" "log lines missing"; fi

# --- nothing left -----------------------------------------------------------------------------

run_cmd "$DOCKER" -H "$SOCK" ps -aq
shims=$(pgrep -c -f "berth-shim.*$WORK" || true)
if [[ $RC -eq 0 && -z "$OUT" && $shims -eq 0 ]]; then ok "nothing left: no container, no shim"
else not_ok "nothing left: no container, no shim" "containers: '$OUT', shims: $shims"; fi

finish
