# Apache-2.0. Kernel-module signatures against the kernel's keyrings. Standard library only: Ansible ships
# this file with the modules that import it (nvidia_driver_facts, nvidia_gds_facts).
"""Whether Secure Boot lets a module load: modinfo's signer and sig_key against the names of the keys the
running kernel holds (/proc/keys)."""

import re


def kernel_key_names(text):
    """Subject names of the X.509 keys in the kernel's keyrings, from /proc/keys.

    Each asymmetric key's description is "<subject name>: <subject key identifier>: ...". The
    builtin, secondary, machine and platform keyrings (the platform one holds the firmware's db
    and, on Debian/Ubuntu kernels, MOK keys and is used for module signatures) are listed to root."""
    names = []
    for line in text.splitlines():
        fields = line.split(None, 8)
        if len(fields) < 9 or fields[7] != "asymmetri":
            continue
        match = re.match(r"(.*?): [0-9a-f]{8,}(?::|$)", fields[8])
        if match:
            names.append(match.group(1))
    return names


def signature_verdict(signer, sig_key, key_names):
    """What the kernel does with a module under Secure Boot, from modinfo's signer and sig_key.

    modinfo names the signing certificate by issuer (signer) and serial (sig_key); a self-signed
    module-signing certificate (DKMS's, MOK keys) is trusted when a key of that name is in the
    kernel's keyrings."""
    if not signer and not sig_key:
        return {
            "signed": False,
            "signer": "",
            "sig_key": "",
            "key_trusted": False,
            "verdict": "unsigned: rejected under Secure Boot (EKEYREJECTED, 'Key was rejected by service')",
        }
    trusted = None if key_names is None else signer in key_names
    verdict = {
        True: f"signed by '{signer}', a key the running kernel holds (db/MOK): loads under Secure Boot",
        False: f"signed by '{signer}', a key the running kernel does not hold (enrol it in db or MOK): "
        "rejected under Secure Boot",
        None: f"signed by '{signer}'; the kernel's keyrings (/proc/keys) could not be read to tell "
        "whether it is trusted",
    }[trusted]
    return {"signed": True, "signer": signer, "sig_key": sig_key, "key_trusted": trusted, "verdict": verdict}
