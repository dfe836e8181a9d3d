#!/usr/bin/env bash
# Install every Debian 12 package that berth's build, tests, fuzzing and benchmarks need.
#
# Idempotent and non-interactive: asks dpkg-query first and only runs `apt-get update` and
# `apt-get install` when something is missing, so a second run is a fast no-op.
# Needs root only when it has something to install.
#
#   scripts/install-deps.sh          # install what is missing
#   scripts/install-deps.sh --check  # exit 1 (and list them) if anything is missing
set -euo pipefail

PACKAGES=(
  # build
  cmake ninja-build ccache g++ make pkg-config git
  # libraries (ARCHITECTURE.md "Dependencies"; add the engine's ones when those layers land)
  nlohmann-json3-dev libseccomp-dev libcap-dev libcli11-dev
  # images: layers (tar, gzip, zstd; ISA-L inflates gzip ~3x faster than zlib), registry
  # HTTP/TLS, digests; the daemon's HTTP and metadata
  libarchive-dev zlib1g-dev libzstd-dev libisal-dev libcurl4-openssl-dev libssl-dev libboost-dev
  libsqlite3-dev
  # tests and benchmarks
  libgtest-dev libgmock-dev googletest libbenchmark-dev hyperfine bats
  # fuzzing (libFuzzer ships in compiler-rt) and `make format`
  clang libclang-rt-14-dev clang-format
  # containers for the demo, integration tests and comparison runs; engines that use
  # berth-runtime in tests/compat (podman, dockerd, containerd)
  busybox-static runc crun podman conmon docker.io containerd
  # a real registry and image tools for fixtures and interop tests; htpasswd for Basic auth
  docker-registry skopeo umoci apache2-utils pigz
  # docker-py for the API compatibility tests; tini as the --init process
  python3-docker tini
  # tools the scripts use
  jq time util-linux iproute2 procps tmux linux-perf e2fsprogs bc curl
)

missing_packages() {
  # One dpkg-query for all packages; a package it does not know is absent from its output.
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

if [[ ${#missing[@]} -eq 0 ]]; then
  exit 0
fi

if [[ "${1:-}" == "--check" ]]; then
  echo "install-deps: missing packages: ${missing[*]}" >&2
  exit 1
fi

if [[ $(id -u) -ne 0 ]]; then
  echo "install-deps: missing packages: ${missing[*]}" >&2
  echo "install-deps: run as root to install them: sudo $0" >&2
  exit 1
fi

echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt_opts=(-y -q -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)
apt-get update -q
apt-get install "${apt_opts[@]}" --no-install-recommends "${missing[@]}"

mapfile -t still_missing < <(missing_packages)
if [[ ${#still_missing[@]} -ne 0 ]]; then
  echo "install-deps: still missing after install: ${still_missing[*]}" >&2
  exit 1
fi
