#!/usr/bin/env bash
# Install everything the CLI and the test suite need on a fresh Debian 12 / Ubuntu 22.04
# machine: apt packages (podman for test targets, debootstrap for the image) and the
# project's virtualenv in .venv. Re-running is cheap: each step is skipped when done.
#   usage: scripts/install-deps.sh [--test]     (--test adds the test/lint toolchain)
#   scripts/install-deps.sh --find-python       (prints the controller Python it would use, or
#                                                 "apt: PACKAGES" to install one; exit 2 when neither)
set -euo pipefail
cd "$(dirname "$0")/.."

# The controller's Python: ansible-core 2.19 (pyproject's pin) supports 3.11 to 3.13. PYTHON wins;
# else python3 when new enough (Debian 12: 3.11), else python3.13/3.12/3.11 from PATH. Ubuntu 22.04's
# python3 is 3.10: its archive has python3.11 in universe, installed below (with python3.11-venv).
PY_MIN="3.11" PY_MAX="3.13"
py_ok() { "$1" -c 'import sys; sys.exit(not (3, 11) <= sys.version_info[:2] <= (3, 13))' 2>/dev/null; }
find_python() {
    if [[ -n "${PYTHON:-}" ]]; then
        py_ok "$PYTHON" && { command -v "$PYTHON"; return 0; }
        echo "error: PYTHON=$PYTHON is not Python $PY_MIN to $PY_MAX ($("$PYTHON" -V 2>&1 || echo 'not runnable'))" >&2
        return 2
    fi
    local c
    for c in python3 python3.13 python3.12 python3.11; do
        command -v "$c" > /dev/null 2>&1 && py_ok "$c" && { command -v "$c"; return 0; }
    done
    # None here: the distribution's own archive, where it has one (Ubuntu 22.04: universe).
    if command -v apt-cache > /dev/null 2>&1 \
            && apt-cache policy python3.11 2>/dev/null | grep -Eq 'Candidate: [0-9]'; then
        echo "apt: python3.11 python3.11-venv"; return 0
    fi
    cat >&2 <<MSG
error: the controller needs Python $PY_MIN to $PY_MAX (ansible-core 2.19); found $(python3 -V 2>&1 || echo 'no python3').
  Ubuntu 22.04: enable the universe component, then re-run this script (it installs python3.11):
      sudo add-apt-repository universe && sudo apt-get update
  Elsewhere: install Python $PY_MIN+ (with its venv module) and re-run with PYTHON=/path/to/python3.11
MSG
    return 2
}
if [[ "${1:-}" == "--find-python" ]]; then find_python; exit; fi
py_found="$(find_python)" || exit 2

apt_pkgs=(ca-certificates openssh-client)
if [[ "$py_found" == apt:* ]]; then
    apt_pkgs+=(${py_found#apt: })
elif [[ "$py_found" == /usr/bin/* ]]; then   # the distribution's Python: its venv module is a package
    apt_pkgs+=("$(basename "$py_found")-venv")
fi
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

py="$py_found"
if [[ "$py" == apt:* ]]; then
    py="$(command -v python3.11)" && py_ok "$py" || { echo "error: python3.11 did not install" >&2; exit 2; }
fi
echo "controller Python: $py ($("$py" -V 2>&1))"
# A venv left half-made by an interrupted run is made again.
[[ -x .venv/bin/python && -x .venv/bin/pip ]] || "$py" -m venv --clear .venv
stamp=".venv/.installed$pip_extra"
if [[ ! -f "$stamp" || pyproject.toml -nt "$stamp" || setup.py -nt "$stamp" ]]; then
    .venv/bin/pip install -q --upgrade pip
    .venv/bin/pip install -q -e ".$pip_extra"
    touch "$stamp"
fi
# The checkout's collection for Ansible, Molecule and ansible.cfg: the link
# .cache/collections/ansible_collections/autoglm/provision -> the repository root (provisioner/paths.py).
.venv/bin/python -c "from provisioner import paths; paths.ensure_collections_path()"
