#!/usr/bin/env bash
# Install the Debian 12 packages that tests/compat needs: the engines that run berth-runtime
# (podman + conmon, dockerd from docker.io, containerd + ctr + containerd-shim-runc-v2) and the
# tools the scripts use. Idempotent: only calls apt-get when something is missing.
#
#   scripts/compat-deps.sh          # install what is missing (root)
#   scripts/compat-deps.sh --check  # exit 1 (and list them) if anything is missing
#
# Installing docker.io does not start a system dockerd where policy-rc.d forbids it; the tests
# never use a system daemon anyway (each starts its own in a temp dir).
set -euo pipefail

PACKAGES=(
  podman conmon docker.io containerd runc
  busybox-static jq util-linux coreutils tar procps
)

missing_packages() {
  local -A installed=()
  local pkg status
  while read -r pkg status; do
    [[ "$status" == "installed" ]] && installed[${pkg%%:*}]=1
  done < <(dpkg-query -W -f='${Package} ${db:Status-Status}\n' "${PACKAGES[@]}" 2>/dev/null || true)
  for pkg in "${PACKAGES[@]}"; do
    [[ -n "${installed[$pkg]:-}" ]] || printf '%s\n' "$pkg"
  done
}

mapfile -t missing < <(missing_packages)
[[ ${#missing[@]} -eq 0 ]] && exit 0

if [[ "${1:-}" == "--check" ]]; then
  echo "compat-deps: missing packages: ${missing[*]}" >&2
  exit 1
fi
if [[ $(id -u) -ne 0 ]]; then
  echo "compat-deps: missing packages: ${missing[*]}; run as root: sudo $0" >&2
  exit 1
fi

echo "compat-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
  --no-install-recommends "${missing[@]}"
