#!/usr/bin/env bash
# Build a stand-in for Debian 12's NVIDIA driver packages (non-free nvidia-graphics-drivers), for
# the `vm` scenario: the same package names, source package, DKMS module name and layout, but the
# kernel module is a few lines of C that loads without a GPU (the real one refuses to load without
# one, and its DKMS build takes far too long under software emulation).
#
# What it lets the scenario exercise for real on a booted Secure Boot VM: the nvidia_driver role's
# install from apt, the DKMS build for the running kernel, module signing with the project's key
# (and the kernel accepting it), the module-version check, the holds, the reboot through the role
# and `modprobe nvidia` after it (version read back from /sys/module/nvidia/version).
#   usage: build-fake-driver.sh OUTDIR [VERSION]      (VERSION default 535.999.99)
set -euo pipefail
out="$1"
version="${2:-535.999.99}"
deb_version="$version-1"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"

control() {  # package, source, depends, description
    local dir="$work/$1"
    mkdir -p "$dir/DEBIAN"
    cat > "$dir/DEBIAN/control" <<EOF
Package: $1
Source: $2
Version: $deb_version
Architecture: amd64
Maintainer: autoglm-provision tests <tests@invalid>
${3:+Depends: $3
}Section: non-free/libs
Priority: optional
Description: $4 (autoglm-provision test stand-in)
 Not the NVIDIA driver: a stand-in with the same names for the VM test scenario.
EOF
}

# --- nvidia-kernel-dkms: DKMS source of the module, built as nvidia.ko, installed as nvidia-current.ko
pkg=nvidia-kernel-dkms
control "$pkg" nvidia-graphics-drivers "dkms" "NVIDIA binary kernel module DKMS source"
src="$work/$pkg/usr/src/nvidia-current-$version"
mkdir -p "$src" "$work/$pkg/etc/modprobe.d"
cat > "$src/nvidia.c" <<EOF
// SPDX-License-Identifier: GPL-2.0
// autoglm-provision test stand-in for the NVIDIA kernel module: loads without hardware.
#include <linux/init.h>
#include <linux/module.h>
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("autoglm-provision test stand-in for the NVIDIA driver module (no GPU)");
MODULE_VERSION("$version");
static int __init autoglm_fake_nvidia_init(void)
{
	pr_info("autoglm fake nvidia $version loaded\n");
	return 0;
}
static void __exit autoglm_fake_nvidia_exit(void) {}
module_init(autoglm_fake_nvidia_init);
module_exit(autoglm_fake_nvidia_exit);
EOF
echo 'obj-m := nvidia.o' > "$src/Makefile"
cat > "$src/dkms.conf" <<EOF
PACKAGE_NAME="nvidia-current"
PACKAGE_VERSION="$version"
BUILT_MODULE_NAME[0]="nvidia"
DEST_MODULE_NAME[0]="nvidia-current"
DEST_MODULE_LOCATION[0]="/updates/dkms"
MAKE[0]="make -C \${kernel_source_dir} M=\${dkms_tree}/\${PACKAGE_NAME}/\${PACKAGE_VERSION}/build modules"
CLEAN="make -C \${kernel_source_dir} M=\${dkms_tree}/\${PACKAGE_NAME}/\${PACKAGE_VERSION}/build clean"
AUTOINSTALL="yes"
EOF
# Debian's packaging loads nvidia-current.ko under the name nvidia.
echo 'alias nvidia nvidia-current' > "$work/$pkg/etc/modprobe.d/nvidia-current-autoglm-test.conf"
echo /etc/modprobe.d/nvidia-current-autoglm-test.conf > "$work/$pkg/DEBIAN/conffiles"
# As dh_dkms does: add the source, build and install for the running kernel when its headers exist.
cat > "$work/$pkg/DEBIAN/postinst" <<EOF
#!/bin/sh
set -e
if [ "\$1" = configure ]; then
    dkms add -m nvidia-current -v $version >/dev/null 2>&1 || true
    if [ -e "/lib/modules/\$(uname -r)/build/Makefile" ]; then
        dkms install -m nvidia-current -v $version -k "\$(uname -r)"
    else
        echo "nvidia-kernel-dkms: no headers for \$(uname -r): module not built" >&2
    fi
fi
EOF
cat > "$work/$pkg/DEBIAN/prerm" <<EOF
#!/bin/sh
set -e
dkms remove -m nvidia-current -v $version --all >/dev/null 2>&1 || true
EOF
chmod 0755 "$work/$pkg/DEBIAN/postinst" "$work/$pkg/DEBIAN/prerm"

# --- nvidia-smi: reports the loaded module's version and no GPUs (there are none)
pkg=nvidia-smi
control "$pkg" nvidia-graphics-drivers "" "NVIDIA System Management Interface"
mkdir -p "$work/$pkg/usr/bin"
cat > "$work/$pkg/usr/bin/nvidia-smi" <<'EOF'
#!/bin/sh
# Test stand-in: the loaded module's version, no GPU rows.
[ -r /sys/module/nvidia/version ] || { echo "NVIDIA-SMI has failed: no driver loaded" >&2; exit 9; }
case "$*" in *--query-gpu*) exit 0 ;; esac
echo "stand-in nvidia-smi, driver $(cat /sys/module/nvidia/version), no GPUs"
EOF
chmod 0755 "$work/$pkg/usr/bin/nvidia-smi"

# --- libraries: empty packages of the driver's source package (held with it)
for pkg in libcuda1 libnvidia-ml1; do
    control "$pkg" nvidia-graphics-drivers "" "NVIDIA library $pkg"
done

# --- nvidia-persistenced: a unit whose daemon idles
pkg=nvidia-persistenced
control "$pkg" nvidia-persistenced "" "daemon to maintain persistent software state in the NVIDIA driver"
mkdir -p "$work/$pkg/lib/systemd/system"
cat > "$work/$pkg/lib/systemd/system/nvidia-persistenced.service" <<'EOF'
[Unit]
Description=NVIDIA Persistence Daemon (autoglm-provision test stand-in)
[Service]
ExecStart=/bin/sleep infinity
[Install]
WantedBy=multi-user.target
EOF

for dir in "$work"/*/; do
    name="$(basename "$dir")"
    dpkg-deb --root-owner-group -Zgzip --build "$dir" "$out/${name}_${deb_version}_amd64.deb" >/dev/null
done
ls "$out"
