#!/bin/sh
# Installed by autoglm.provision.bios_check (bios_check_acs_clear_redirect: true). At boot, clear
# ACS Source Validation, P2P Request Redirect and Completion Redirect (ACS control register bits
# 0x1, 0x4, 0x8; the other bits are kept: setpci value:mask) on every bridge above an NVIDIA GPU
# (vendor 0x10de, class 0x0300/0x0302) or an RDMA NIC (vendor 0x15b3 network, class 0x0207), as
# NVIDIA's NCCL troubleshooting guide ("PCI Access Control Services") shows with setpci.
# This lowers IOMMU isolation between those devices; it is what keeps GPU peer traffic off the
# root complex while VT-d stays on for SR-IOV. Logs each bridge it changes to the journal.
# AUTOGLM_SYSFS and SETPCI exist for the unit test (a sysfs tree and a recording setpci).
set -eu
sysfs=${AUTOGLM_SYSFS:-/sys}/bus/pci/devices
setpci=${SETPCI:-setpci}
seen=" "
for dev in "$sysfs"/*; do
    vendor=$(cat "$dev/vendor"); class=$(cat "$dev/class")
    case "$vendor:$class" in
        0x10de:0x0300*|0x10de:0x0302*|0x15b3:0x02*|*:0x0207*) ;;
        *) continue ;;
    esac
    [ -e "$dev/physfn" ] && continue
    path=$(readlink -f "$dev")
    parent=$(dirname "$path")
    while :; do
        bdf=$(basename "$parent")
        case "$bdf" in
            [0-9a-f][0-9a-f][0-9a-f][0-9a-f]:[0-9a-f][0-9a-f]:[0-9a-f][0-9a-f].[0-7]) ;;
            *) break ;;
        esac
        case "$seen" in *" $bdf "*) break ;; esac  # this bridge and those above it are done
        seen="$seen$bdf "
        if ctl=$("$setpci" -s "$bdf" ECAP_ACS+0x6.w 2>/dev/null) && [ -n "$ctl" ]; then
            "$setpci" -s "$bdf" ECAP_ACS+0x6.w=0000:000d
            echo "autoglm-acs-clear: $bdf ACS control 0x$ctl -> 0x$("$setpci" -s "$bdf" ECAP_ACS+0x6.w)"
        fi
        parent=$(dirname "$parent")
    done
done
