#!/usr/bin/env bash
# Install everything the CLI and the test suite need on a fresh Debian 12 / Ubuntu 22.04
# machine: apt packages (podman for test targets, debootstrap for the image) and the
# project's virtualenv in .venv. Re-running is cheap: each step is skipped when done.
#   usage: scripts/install-deps.sh [--test]     (--test adds the test/lint toolchain)
set -euo pipefail
cd "$(dirname "$0")/.."

apt_pkgs=(python3-venv ca-certificates openssh-client)
pip_extra=""
if [[ "${1:-}" == "--test" ]]; then
    apt_pkgs+=(podman runc debootstrap uidmap slirp4netns fuse-overlayfs iproute2 openssh-client
               ipmitool libvirt-dev pkg-config
               # the `vm` scenario: a UEFI/Secure Boot guest under qemu, its disk image built here
               qemu-system-x86 qemu-utils ovmf mtools dosfstools fdisk e2fsprogs openssl
               chromium)   # headless browser: renders the HTML sign-off report in its test
    pip_extra="[test]"
fi

missing=()
for p in "${apt_pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
    sudo_cmd=""; [[ $(id -u) -eq 0 ]] || sudo_cmd="sudo"
    $sudo_cmd apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

py="${PYTHON:-python3}"
"$py" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || {
    echo "error: the controller needs Python >= 3.11 ($py is $("$py" -V 2>&1))" >&2; exit 2; }
# A venv left half-made by an interrupted run is made again.
[[ -x .venv/bin/python && -x .venv/bin/pip ]] || "$py" -m venv --clear .venv
stamp=".venv/.installed$pip_extra"
if [[ ! -f "$stamp" || pyproject.toml -nt "$stamp" ]]; then
    .venv/bin/pip install -q --upgrade pip
    .venv/bin/pip install -q -e ".$pip_extra"
    touch "$stamp"
fi
