#!/usr/bin/env bash
# Start or stop the `vm` scenario's guest: Debian 12 on UEFI (OVMF) with Secure Boot enforced,
# booted from an overlay on the cached image (scripts/build-vm-image.sh), SSH on a loopback port.
#   qemu-vm.sh start INSTANCE_DIR IMAGE_DIR PORT     (daemonizes; serial console in INSTANCE_DIR/console.log)
#   qemu-vm.sh stop INSTANCE_DIR
# Software emulation (TCG) by default: KVM hung in early boot on the CI machines. Set
# AUTOGLM_VM_ACCEL=kvm where hardware acceleration works. AUTOGLM_VM_MEMORY (MiB, default 2048),
# AUTOGLM_VM_CPUS (default 2).
set -euo pipefail
action="$1"; dir="$2"

case "$action" in
start)
    image="$3"; port="$4"
    mkdir -p "$dir"
    # The cached image and firmware variables are never written: an overlay disk and a copy of
    # the variable store (with the project's test key in db) per instance.
    qemu-img create -q -f qcow2 -F qcow2 -b "$image/disk.qcow2" "$dir/disk.qcow2"
    install -m 0600 "$image/OVMF_VARS.fd" "$dir/OVMF_VARS.fd"
    install -m 0600 "$image/id_ed25519" "$image/signing.key" "$dir/"
    install -m 0644 "$image/signing.der" "$image/signing.crt" "$dir/"
    accel="${AUTOGLM_VM_ACCEL:-tcg}"
    [[ "$accel" == tcg ]] && accel="tcg,thread=multi"
    # q35 with SMM and a secure flash: what OVMF's Secure Boot build needs (variables writable only
    # from SMM, so the OS cannot turn Secure Boot off). An Intel vIOMMU (DMAR table) first, before
    # the other PCI devices: bios_check sees the firmware's IOMMU and the kernel's default (off).
    qemu-system-x86_64 \
        -name autoglm-vm,process=autoglm-vm \
        -accel "$accel" \
        -machine q35,smm=on \
        -cpu qemu64,vendor=GenuineIntel \
        -smp "${AUTOGLM_VM_CPUS:-2}" -m "${AUTOGLM_VM_MEMORY:-2048}" \
        -global driver=cfi.pflash01,property=secure,value=on \
        -global ICH9-LPC.disable_s3=1 \
        -drive if=pflash,format=raw,unit=0,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.ms.fd \
        -drive if=pflash,format=raw,unit=1,file="$dir/OVMF_VARS.fd" \
        -device intel-iommu \
        -drive file="$dir/disk.qcow2",format=qcow2,if=virtio,cache=unsafe \
        -netdev user,id=n0,hostfwd=tcp:127.0.0.1:"$port"-:22 \
        -device virtio-net-pci,netdev=n0 \
        -device virtio-rng-pci \
        -display none -monitor none \
        -serial file:"$dir/console.log" \
        -pidfile "$dir/qemu.pid" -daemonize
    ;;
stop)
    if [[ -f "$dir/qemu.pid" ]]; then
        pid="$(cat "$dir/qemu.pid")"
        # Only this instance's qemu (a stale pid file may name another process by now).
        if tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -qF "$dir/disk.qcow2" && kill "$pid" 2>/dev/null; then
            for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
            kill -9 "$pid" 2>/dev/null || true
        fi
    fi
    rm -f "$dir/disk.qcow2" "$dir/OVMF_VARS.fd" "$dir/qemu.pid"
    ;;
*)
    echo "usage: $0 start INSTANCE_DIR IMAGE_DIR PORT | stop INSTANCE_DIR" >&2; exit 2 ;;
esac
