#!/usr/bin/env bash
# Build the Debian 12 (bookworm) UEFI / Secure Boot VM image the `vm` Molecule scenario boots.
#
# A real bootable disk, made without loop devices or root mounts: debootstrap into a directory,
# Debian's linux-image-amd64 (signed kernel) + initramfs-tools + GRUB, an ext4 root filesystem made
# from the directory (mkfs.ext4 -d), an EFI system partition holding Debian's signed shim and
# signed GRUB (mtools), both laid into a GPT disk (sfdisk) and converted to qcow2.
#
# Beside the disk, in the same cache directory:
#   OVMF_VARS.fd         copy of OVMF's variable store with Microsoft's keys AND the project's test
#                        module-signing certificate enrolled in db (virt-firmware), so modules
#                        signed with it load under Secure Boot without MokManager's console screen
#   signing.key/.crt/.der  the project's test module-signing key (what DKMS signs with in the test)
#   id_ed25519(.pub)     the SSH key root's authorized_keys holds
#   kernel-release       the image's kernel release (uname -r)
#
# Cached: the directory is keyed on a hash of this recipe, so it is rebuilt when the recipe
# changes and reused otherwise (and after a fresh clone on the same machine).
#   usage: scripts/build-vm-image.sh [--force] [--print-dir]
#   env:   AUTOGLM_VM_CACHE (default /var/cache/autoglm-vm), AUTOGLM_DEBIAN_MIRROR
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
MIRROR="${AUTOGLM_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
SECURITY_MIRROR="${AUTOGLM_DEBIAN_SECURITY_MIRROR:-http://security.debian.org/debian-security}"
CACHE="${AUTOGLM_VM_CACHE:-/var/cache/autoglm-vm}"
OVMF_VARS_MS="${AUTOGLM_OVMF_VARS:-/usr/share/OVMF/OVMF_VARS_4M.ms.fd}"
# Root filesystem size (sparse; the image holds ~1 GiB) and ESP size.
ROOT_MIB=8192
ESP_MIB=64

# The recipe: this script (and the guest files it writes are inline below). A change rebuilds.
key="$(cat "$0" | sha256sum | cut -c1-16)"
out="$CACHE/debian12-uefi-$key"

force=0
for arg in "$@"; do
    case "$arg" in
        --force) force=1 ;;
        --print-dir) echo "$out"; exit 0 ;;
        *) echo "usage: $0 [--force] [--print-dir]" >&2; exit 2 ;;
    esac
done

if ((!force)) && [[ -f "$out/.complete" ]]; then
    echo "VM image $out exists: build skipped"
    exit 0
fi

for tool in debootstrap mkfs.ext4 mkfs.vfat mcopy sfdisk qemu-img openssl virt-fw-vars; do
    command -v "$tool" >/dev/null || {
        echo "$tool is missing: run scripts/install-deps.sh --test (and put .venv/bin on PATH)" >&2; exit 2; }
done
[[ -r "$OVMF_VARS_MS" ]] || { echo "$OVMF_VARS_MS is missing: apt-get install ovmf" >&2; exit 2; }
[[ $(id -u) -eq 0 ]] || { echo "debootstrap needs root" >&2; exit 2; }

start=$SECONDS
mkdir -p "$CACHE"
work="$(mktemp -d "$CACHE/build.XXXXXX")"
rootfs="$work/rootfs"
cleanup() {
    for m in proc sys dev/pts dev; do umount "$rootfs/$m" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

# --- 1. Root filesystem ------------------------------------------------------------------------
# What a minimal Debian 12 server has, plus python3 (Ansible), openssh-server, mokutil (Secure
# Boot state), initramfs-tools, GRUB and the signed boot chain.
debootstrap --variant=minbase \
    --include=systemd,systemd-sysv,udev,dbus,sudo,openssh-server,python3,python3-apt,ca-certificates,iproute2,procps,kmod,pciutils,apt-utils,less \
    bookworm "$rootfs" "$MIRROR"

cat > "$rootfs/etc/apt/sources.list" <<EOF
deb $MIRROR bookworm main
deb $MIRROR bookworm-updates main
deb $SECURITY_MIRROR bookworm-security main
EOF
mount -t proc proc "$rootfs/proc"
mount -t sysfs sys "$rootfs/sys"
mount --bind /dev "$rootfs/dev"
mount --bind /dev/pts "$rootfs/dev/pts"
printf '#!/bin/sh\nexit 101\n' > "$rootfs/usr/sbin/policy-rc.d"; chmod +x "$rootfs/usr/sbin/policy-rc.d"

# initramfs-tools: a small initramfs (the drivers this VM boots from, not every storage driver)
# keeps each rebuild (the modprobe role's handler) to seconds under software emulation. The
# modprobe.d files are copied into it whatever MODULES says.
mkdir -p "$rootfs/etc/initramfs-tools/conf.d"
echo "MODULES=list" > "$rootfs/etc/initramfs-tools/conf.d/autoglm-vm.conf"
mkdir -p "$rootfs/etc/initramfs-tools"
printf '%s\n' virtio_pci virtio_blk virtio_scsi sd_mod ext4 crc32c_generic > "$rootfs/etc/initramfs-tools/modules"

chroot_apt() {
    DEBIAN_FRONTEND=noninteractive chroot "$rootfs" apt-get -o Dpkg::Options::=--force-confdef \
        -o Dpkg::Options::=--force-confold -y -q --no-install-recommends "$@"
}
chroot_apt update
# GRUB: grub-efi-amd64 gives /etc/default/grub, update-grub and the kernel hooks; the signed
# binaries (shim-signed, grub-efi-amd64-signed) are what the firmware boots under Secure Boot.
echo "grub-efi-amd64 grub2/update_nvram boolean false" | chroot "$rootfs" debconf-set-selections
echo "grub-efi-amd64 grub2/force_efi_extra_removable boolean false" | chroot "$rootfs" debconf-set-selections
chroot_apt install initramfs-tools linux-image-amd64 grub-efi-amd64 grub-efi-amd64-signed \
    shim-signed mokutil efibootmgr
# The compiler toolchain DKMS needs, installed here at native speed: under software emulation
# dpkg is slow at it. The kernel role still installs the running kernel's headers in
# the guest (what is specific to the booted kernel); these are already there for it.
chroot_apt install dkms build-essential libelf-dev
kver="$(basename "$(ls -d "$rootfs"/lib/modules/* | sort -V | tail -1)")"

# --- 2. Guest configuration --------------------------------------------------------------------
echo autoglm-vm > "$rootfs/etc/hostname"
printf '127.0.0.1 localhost\n127.0.1.1 autoglm-vm\n' > "$rootfs/etc/hosts"
printf 'nameserver 10.0.2.3\n' > "$rootfs/etc/resolv.conf"     # qemu user-mode network's DNS
mkdir -p "$rootfs/etc/systemd/network"
cat > "$rootfs/etc/systemd/network/10-autoglm.network" <<'EOF'
[Match]
Name=en* eth*
[Network]
DHCP=ipv4
EOF
chroot "$rootfs" systemctl enable systemd-networkd ssh >/dev/null
chroot "$rootfs" systemctl mask systemd-networkd-wait-online.service >/dev/null
# Persistent journal: verify counts the boots (journalctl --list-boots).
mkdir -p "$rootfs/var/log/journal"
# Serial console only (qemu -nographic): no getty on tty1..6, root login over SSH with a key.
ssh-keygen -q -t ed25519 -N '' -C autoglm-vm-test -f "$work/id_ed25519"
install -d -m 0700 "$rootfs/root/.ssh"
install -m 0600 "$work/id_ed25519.pub" "$rootfs/root/.ssh/authorized_keys"
chroot "$rootfs" ssh-keygen -A >/dev/null

root_uuid="$(cat /proc/sys/kernel/random/uuid)"
esp_serial="$(printf '%04X-%04X' $((RANDOM)) $((RANDOM)))"
cat > "$rootfs/etc/fstab" <<EOF
UUID=$root_uuid / ext4 errors=remount-ro 0 1
UUID=$esp_serial /boot/efi vfat umask=0077,nofail 0 1
EOF
mkdir -p "$rootfs/boot/efi"

# GRUB defaults: the serial console (the VM has no screen); a short menu timeout.
# intel_iommu=off: Debian's 6.1 kernel turns the Intel IOMMU on by default, Ubuntu 22.04's 5.15
# kernel (the product's target) leaves it off; the word makes this guest the case bios_check
# repairs: the firmware exposes the IOMMU (DMAR table), the kernel keeps it off.
cmdline="console=ttyS0,115200n8 intel_iommu=off"
sed -i -e 's/^GRUB_TIMEOUT=.*/GRUB_TIMEOUT=1/' \
       -e 's/^GRUB_CMDLINE_LINUX_DEFAULT=.*/GRUB_CMDLINE_LINUX_DEFAULT=""/' \
       -e "s/^GRUB_CMDLINE_LINUX=.*/GRUB_CMDLINE_LINUX=\"$cmdline\"/" \
       "$rootfs/etc/default/grub"
printf 'GRUB_TERMINAL=serial\nGRUB_SERIAL_COMMAND="serial --unit=0 --speed=115200"\n' >> "$rootfs/etc/default/grub"

chroot "$rootfs" update-initramfs -u -k "$kver"
# The first grub.cfg, as update-grub writes it on the booted system (grub-probe cannot see the
# target disk from this chroot; the roles' update-grub regenerates it in the VM).
cat > "$rootfs/boot/grub/grub.cfg" <<EOF
set timeout=1
serial --unit=0 --speed=115200
terminal_input serial
terminal_output serial
insmod part_gpt
insmod ext2
search --no-floppy --fs-uuid --set=root $root_uuid
menuentry 'Debian GNU/Linux' {
    linux /boot/vmlinuz-$kver root=UUID=$root_uuid ro $cmdline
    initrd /boot/initrd.img-$kver
}
EOF
# The project's test module-signing key: DKMS signs with it in the scenario (the nvidia_driver
# role installs it as DKMS's signing key), and its certificate goes into the firmware's db.
openssl req -new -x509 -newkey rsa:2048 -nodes -days 36500 -sha256 \
    -subj "/CN=autoglm-provision test module signing key/" \
    -addext "extendedKeyUsage=codeSigning" \
    -keyout "$work/signing.key" -out "$work/signing.crt" 2>/dev/null
openssl x509 -in "$work/signing.crt" -outform DER -out "$work/signing.der"
printf '%s\n' "$kver" > "$work/kernel-release"

rm -f "$rootfs/usr/sbin/policy-rc.d"
chroot "$rootfs" apt-get clean -q >/dev/null 2>&1 || true
# Pre-download (not install) the headers the kernel role installs, so the converge under software
# emulation does not spend time on the network; apt installs them from its cache as usual.
chroot_apt install --download-only "linux-headers-$kver" linux-headers-amd64 >/dev/null
for m in dev/pts dev sys proc; do umount "$rootfs/$m"; done

# --- 3. Disk: GPT with an ESP (signed shim + GRUB) and the ext4 root ---------------------------
esp="$work/esp.img"
mkfs.vfat -C -F 32 -i "${esp_serial/-/}" -n EFI "$esp" $((ESP_MIB * 1024)) >/dev/null
efi_cfg="$work/grub-esp.cfg"
cat > "$efi_cfg" <<EOF
search.fs_uuid $root_uuid root
set prefix=(\$root)'/boot/grub'
configfile \$prefix/grub.cfg
EOF
export MTOOLS_SKIP_CHECK=1
mmd -i "$esp" ::/EFI ::/EFI/BOOT ::/EFI/debian
mcopy -i "$esp" "$rootfs/usr/lib/shim/shimx64.efi.signed" ::/EFI/BOOT/BOOTX64.EFI
mcopy -i "$esp" "$rootfs/usr/lib/shim/mmx64.efi.signed" ::/EFI/BOOT/mmx64.efi
mcopy -i "$esp" "$rootfs/usr/lib/grub/x86_64-efi-signed/grubx64.efi.signed" ::/EFI/BOOT/grubx64.efi
mcopy -i "$esp" "$rootfs/usr/lib/shim/shimx64.efi.signed" ::/EFI/debian/shimx64.efi
mcopy -i "$esp" "$rootfs/usr/lib/grub/x86_64-efi-signed/grubx64.efi.signed" ::/EFI/debian/grubx64.efi
mcopy -i "$esp" "$efi_cfg" ::/EFI/debian/grub.cfg
mcopy -i "$esp" "$efi_cfg" ::/EFI/BOOT/grub.cfg

rootimg="$work/root.img"
mkfs.ext4 -q -F -L root -U "$root_uuid" -d "$rootfs" "$rootimg" "${ROOT_MIB}M"

disk="$work/disk.raw"
total_mib=$((1 + ESP_MIB + ROOT_MIB + 1))
truncate -s "${total_mib}M" "$disk"
sfdisk -q "$disk" <<EOF
label: gpt
start=1MiB, size=${ESP_MIB}MiB, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name=esp
start=$((1 + ESP_MIB))MiB, size=${ROOT_MIB}MiB, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name=root
EOF
dd if="$esp" of="$disk" bs=1M seek=1 conv=notrunc,sparse status=none
dd if="$rootimg" of="$disk" bs=1M seek=$((1 + ESP_MIB)) conv=notrunc,sparse status=none
qemu-img convert -f raw -O qcow2 "$disk" "$work/disk.qcow2"

# --- 4. Firmware variables: Microsoft's keys + the project's test certificate in db -------------
virt-fw-vars --input "$OVMF_VARS_MS" --output "$work/OVMF_VARS.fd" \
    --add-db 605dab50-e046-4300-abb6-3dd810dd8b23 "$work/signing.crt" >/dev/null

# --- 5. Publish atomically ----------------------------------------------------------------------
rm -rf "$out"
mkdir -p "$out"
mv "$work/disk.qcow2" "$work/OVMF_VARS.fd" "$work/signing.key" "$work/signing.crt" "$work/signing.der" \
   "$work/id_ed25519" "$work/id_ed25519.pub" "$work/kernel-release" "$out/"
chmod 0600 "$out/signing.key" "$out/id_ed25519"
# Older builds of other recipes are dropped (each is ~1 GiB).
find "$CACHE" -maxdepth 1 -name 'debian12-uefi-*' ! -path "$out" -exec rm -rf {} +
echo "built $out (kernel $kver) in $((SECONDS - start)) s" | tee "$out/build.log"
touch "$out/.complete"
