#!/usr/bin/env bash
# Build an OCI bundle around the host's static busybox.
#
#   scripts/make-bundle.sh DIR [-- cmd args...]
#
# DIR/rootfs: bin/busybox, a symlink for every applet (`busybox --list-full`), /etc/passwd
#   (root, nobody, user 1000), /etc/group, /etc/hostname, /tmp (1777), /root, /home/user and
#   empty proc/ sys/ dev/ mount points. Built only if missing (delete DIR/rootfs to rebuild).
# DIR/config.json: rewritten on every call, from `$RUNTIME spec` (default
#   build/bin/berth-runtime; falls back to `runc spec` when that does not produce a spec),
#   then edited: process.terminal=false, process.args=the command (default: sh),
#   hostname=the rootfs' /etc/hostname. root.readonly stays as the generator set it.
#
# Environment: RUNTIME (spec generator), BUSYBOX (default /bin/busybox).
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUSYBOX=${BUSYBOX:-/bin/busybox}
RUNTIME=${RUNTIME:-$repo_root/build/bin/berth-runtime}
HOSTNAME_IN_ROOTFS=berth

die() { echo "make-bundle: $*" >&2; exit 1; }

usage() { echo "usage: $0 DIR [-- cmd args...]" >&2; exit 2; }

[[ $# -ge 1 && "$1" != -* ]] || usage
bundle=$1
shift
if [[ $# -gt 0 ]]; then
  [[ "$1" == "--" ]] || usage
  shift
fi
args=("$@")
[[ ${#args[@]} -gt 0 ]] || args=(sh)

command -v jq >/dev/null || die "jq is needed (scripts/install-deps.sh installs it)"
[[ -x "$BUSYBOX" ]] || die "$BUSYBOX not found (apt-get install busybox-static)"
if ! file_out=$(LC_ALL=C file -L "$BUSYBOX" 2>/dev/null) || [[ "$file_out" != *"statically linked"* && "$file_out" != *"static-pie"* ]]; then
  # Without `file`, or with a dynamic busybox, the rootfs would lack its libraries.
  command -v file >/dev/null && die "$BUSYBOX is not statically linked (install busybox-static)"
fi

mkdir -p "$bundle"
bundle=$(cd "$bundle" && pwd)

build_rootfs() {
  local tmp="$bundle/.rootfs.tmp.$$"
  rm -rf "$tmp"
  mkdir -p "$tmp"/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,root,home/user,run,var/tmp}
  install -m 0755 "$BUSYBOX" "$tmp/bin/busybox"
  local applet
  while read -r applet; do
    [[ -n "$applet" && "$applet" != bin/busybox ]] || continue
    mkdir -p "$tmp/$(dirname "$applet")"
    ln -sfn /bin/busybox "$tmp/$applet"
  done < <("$BUSYBOX" --list-full)
  install -d -m 1777 "$tmp/tmp"
  chmod 1777 "$tmp/var/tmp"
  chmod 0700 "$tmp/root"
  chown 1000:1000 "$tmp/home/user" 2>/dev/null || true
  cat >"$tmp/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
user:x:1000:1000:user:/home/user:/bin/sh
PASSWD
  cat >"$tmp/etc/group" <<'GROUP'
root:x:0:
nogroup:x:65534:
user:x:1000:
GROUP
  echo "$HOSTNAME_IN_ROOTFS" >"$tmp/etc/hostname"
  rm -rf "$bundle/rootfs"
  mv "$tmp" "$bundle/rootfs"
}

# Generate a default spec into an empty temp dir with $1 (berth-runtime, runc, crun ...).
spec_with() {
  local gen=$1 dir=$2
  rm -f "$dir/config.json"
  "$gen" spec --bundle "$dir" >/dev/null 2>&1 || (cd "$dir" && "$gen" spec >/dev/null 2>&1) || return 1
  jq -e '.ociVersion and .process and .root' "$dir/config.json" >/dev/null 2>&1
}

write_config() {
  local tmpdir
  tmpdir=$(mktemp -d "$bundle/.spec.XXXXXX")
  # shellcheck disable=SC2064
  trap "rm -rf '$tmpdir'" RETURN
  if ! spec_with "$RUNTIME" "$tmpdir"; then
    if [[ "$RUNTIME" != runc ]] && command -v runc >/dev/null && spec_with runc "$tmpdir"; then
      echo "make-bundle: \`$RUNTIME spec\` did not produce a config.json; used \`runc spec\`" >&2
    else
      die "cannot generate config.json: neither \`$RUNTIME spec\` nor \`runc spec\` worked"
    fi
  fi
  # The command goes to jq as NUL-separated raw text: jq 1.6 would take an argument such as
  # "-c" given with --args for its own option. The "end" sentinel keeps trailing empty
  # arguments, which jq 1.6's split() would drop.
  { printf '%s\0' "${args[@]}"; printf end; } | jq -Rs 'split("\u0000") | .[:-1]' >"$tmpdir/args.json"
  jq --arg hostname "$HOSTNAME_IN_ROOTFS" --slurpfile args "$tmpdir/args.json" \
    '.process.terminal = false | .process.args = $args[0]
     | if has("hostname") then .hostname = $hostname else . end' \
    <"$tmpdir/config.json" >"$tmpdir/config.new"
  mv "$tmpdir/config.new" "$bundle/config.json"
}

[[ -x "$bundle/rootfs/bin/busybox" ]] || build_rootfs
write_config
