#!/usr/bin/env bash
# Build the Debian 12 (bookworm) systemd image the tests and Molecule scenarios run on.
# No container registry is reachable on the CI machines, so the image is made from
# debootstrap and imported into podman; the build is skipped when the image exists.
#   usage: scripts/build-test-image.sh [--force]
set -euo pipefail

IMAGE="${AUTOGLM_TEST_IMAGE:-localhost/autoglm-debian12:latest}"
MIRROR="${AUTOGLM_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
here="$(cd "$(dirname "$0")" && pwd)"
export CONTAINERS_CONF="${CONTAINERS_CONF:-$here/containers.conf}"

if [[ "${1:-}" != "--force" ]] && podman image exists "$IMAGE"; then
    echo "image $IMAGE exists: build skipped"
    exit 0
fi

command -v debootstrap >/dev/null || { echo "debootstrap is missing: run scripts/install-deps.sh" >&2; exit 2; }
rootfs="$(mktemp -d /var/tmp/autoglm-rootfs.XXXXXX)"
trap 'rm -rf "$rootfs"' EXIT

# openssh-server: the fleet tests reach containers over real SSH; iproute2/procps/kmod/pciutils:
# what the roles' probes read on a real host.
debootstrap --variant=minbase \
    --include=python3,python3-apt,systemd,systemd-sysv,dbus,sudo,openssh-server,ca-certificates,iproute2,procps,kmod,pciutils \
    bookworm "$rootfs" "$MIRROR"

# A container has no kernel console or getty; keep systemd's boot short and quiet.
for unit in getty.target console-getty.service systemd-remount-fs.service \
            systemd-udevd.service systemd-udev-trigger.service; do
    chroot "$rootfs" systemctl mask "$unit" >/dev/null 2>&1 || true
done
rm -f "$rootfs"/etc/ssh/ssh_host_*          # regenerated per container at first boot
chroot "$rootfs" systemctl enable ssh >/dev/null 2>&1 || true
cat > "$rootfs/etc/systemd/system/ssh-keygen.service" <<'UNIT'
[Unit]
Description=Generate SSH host keys for this container
Before=ssh.service
ConditionPathExists=!/etc/ssh/ssh_host_ed25519_key
[Service]
Type=oneshot
ExecStart=/usr/bin/ssh-keygen -A
[Install]
WantedBy=multi-user.target
UNIT
chroot "$rootfs" systemctl enable ssh-keygen.service >/dev/null 2>&1
apt_clean() { rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*; }
apt_clean
echo "deb $MIRROR bookworm main" > "$rootfs/etc/apt/sources.list"

tar -C "$rootfs" -c . | podman import \
    --change 'CMD ["/lib/systemd/systemd"]' \
    --change 'ENV container=podman' \
    --change 'STOPSIGNAL SIGRTMIN+3' \
    - "$IMAGE"
echo "built $IMAGE"
