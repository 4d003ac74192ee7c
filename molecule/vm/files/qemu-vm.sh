#!/usr/bin/env bash
# Start or stop the `vm` scenario's guest: Debian 12 on UEFI (OVMF) with Secure Boot enforced,
# booted from an overlay on the cached image (scripts/build-vm-image.sh), SSH on a loopback port.
#   qemu-vm.sh start INSTANCE_DIR IMAGE_DIR PORT     (backgrounds; serial console in INSTANCE_DIR/console.log)
#   qemu-vm.sh stop INSTANCE_DIR                     (keeps a copy of console.log, see below)
# A guest reboot is a cold restart: qemu runs with -no-reboot, so a reset ends the qemu process, and
# a supervisor loop starts it again on the same disk and firmware variables. Why: OVMF with SMM on
# an SMP guest occasionally hangs on a warm reset (tianocore/edk2#91), and under TCG CI once waited
# the whole 900 s reboot timeout for a guest that never came back; a cold boot is the path `create`
# takes every time. What the roles see is unchanged: the guest goes down, boots, the boot id changes.
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
    rm -f "$dir/stopping" "$dir/qemu.pid" "$dir/supervisor.pid"
    # The supervisor (below) in its own session, as -daemonize would put qemu.
    setsid -f "$0" supervise "$dir" "$image" "$port" </dev/null >>"$dir/qemu.log" 2>&1
    # Return once qemu runs (as -daemonize did), or fail with its own message.
    for _ in $(seq 1 100); do
        [[ -s "$dir/qemu.pid" ]] && exit 0
        [[ -s "$dir/supervisor.pid" ]] && ! kill -0 "$(cat "$dir/supervisor.pid")" 2>/dev/null && break
        sleep 0.1
    done
    echo "qemu did not start:" >&2; cat "$dir/qemu.log" >&2; exit 1
    ;;
supervise)
    # Internal (start runs it): qemu exits 0 when the guest resets (-no-reboot); start it again on
    # the same disk and variables unless `stop` asked for the end. Any other exit ends the loop.
    port="$4"
    echo $$ > "$dir/supervisor.pid"
    accel="${AUTOGLM_VM_ACCEL:-tcg}"
    [[ "$accel" == tcg ]] && accel="tcg,thread=multi"
    # q35 with SMM and a secure flash: what OVMF's Secure Boot build needs (variables writable only
    # from SMM, so the OS cannot turn Secure Boot off). An Intel vIOMMU (DMAR table) first, before
    # the other PCI devices: bios_check sees the firmware's IOMMU and the kernel's default (off);
    # after the role's reboot with intel_iommu=on iommu=pt the kernel puts every device in an
    # identity (passthrough) domain. intremap=on: interrupt remapping, as on a real VT-d host (it
    # needs kernel-irqchip=split under KVM; TCG ignores that setting). caching-mode=on: what a
    # device assigned to this guest would need. The NIC and the RNG sit below PCIe root ports,
    # whose ACS capability QEMU emulates: the kernel sets its ACS bits once the IOMMU is on, and the
    # pcie_p2p walk reads them from real sysfs config space (molecule/vm/verify_boot.yml).
    qemu() {
      qemu-system-x86_64 \
          -name autoglm-vm,process=autoglm-vm \
          -accel "$accel" \
          -machine q35,smm=on,kernel-irqchip=split \
          -cpu qemu64,vendor=GenuineIntel \
          -smp "${AUTOGLM_VM_CPUS:-2}" -m "${AUTOGLM_VM_MEMORY:-2048}" \
          -global driver=cfi.pflash01,property=secure,value=on \
          -global ICH9-LPC.disable_s3=1 \
          -drive if=pflash,format=raw,unit=0,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.ms.fd \
          -drive if=pflash,format=raw,unit=1,file="$dir/OVMF_VARS.fd" \
          -device intel-iommu,intremap=on,caching-mode=on \
          -drive file="$dir/disk.qcow2",format=qcow2,if=virtio,cache=unsafe \
          -netdev user,id=n0,hostfwd=tcp:127.0.0.1:"$port"-:22 \
          -device pcie-root-port,id=rp1,chassis=1,slot=1 \
          -device pcie-root-port,id=rp2,chassis=2,slot=2 \
          -device virtio-net-pci,netdev=n0,bus=rp1 \
          -device virtio-rng-pci,bus=rp2 \
          -display none -monitor none \
          -chardev file,id=console,path="$dir/console.log",append=on -serial chardev:console \
          -no-reboot -pidfile "$dir/qemu.pid" \
          "$@"
    }
    boots=0
    while qemu; do
        [[ -e "$dir/stopping" ]] && break
        boots=$((boots + 1))
        echo "[qemu-vm.sh] $(date -u +%FT%TZ) guest reset: cold restart $boots" >> "$dir/console.log"
    done
    ;;
stop)
    [[ -d "$dir" ]] || exit 0  # nothing was started (Molecule destroys before it creates)
    touch "$dir/stopping"
    for pidfile in supervisor.pid qemu.pid; do
        [[ -f "$dir/$pidfile" ]] || continue
        pid="$(cat "$dir/$pidfile")"
        # Only this instance's processes (a stale pid file may name another process by now): qemu
        # carries the overlay's path in its command line, the supervisor is this script.
        if tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -qE "$dir/disk.qcow2|qemu-vm.sh supervise $dir " && kill "$pid" 2>/dev/null; then
            for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
            kill -9 "$pid" 2>/dev/null || true
        fi
    done
    # The serial console outlives the instance (Molecule prunes the instance directory): the place
    # to read why a guest did not come back.
    if [[ -f "$dir/console.log" ]]; then
        keep="${AUTOGLM_VM_LOG_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/autoglm-provision/vm-logs}"
        mkdir -p "$keep"
        cp "$dir/console.log" "$keep/$(basename "$dir")-console.log"
    fi
    rm -f "$dir/disk.qcow2" "$dir/OVMF_VARS.fd" "$dir/qemu.pid" "$dir/supervisor.pid" "$dir/stopping"
    ;;
*)
    echo "usage: $0 start INSTANCE_DIR IMAGE_DIR PORT | stop INSTANCE_DIR" >&2; exit 2 ;;
esac
