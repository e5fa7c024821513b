"""How k3s runs on a host with SELinux: one rule for the k3s role (filter k3s_selinux_plan).

k3s's install script (k3s-io/k3s install.sh, setup_selinux / install_selinux_rpm) installs the
`k3s-selinux` policy package (with `container-selinux`) from Rancher's signed RPM repository
(https://rpm.rancher.io/k3s/<channel>/common/<infix>/noarch, gpgcheck=1, key
https://rpm.rancher.io/public.key) on RHEL-family hosts that have SELinux, and labels the binary
`chcon -u system_u -r object_r -t container_runtime_exec_t <bin>/k3s`; when that fails and SELinux
is enforcing it stops ("Failed to apply container_runtime_exec_t"). Without the policy, k3s and
its containers are denied on an enforcing host. The repository infix comes from the release
(install.sh: el7 for 7 and Amazon Linux 2, el8 for 8 and for Fedora/Amazon releases above 36,
el9 otherwise). SUSE (zypper, transactional-update) and CoreOS (rpm-ostree) are not handled here.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

RPM_PACKAGES = ("container-selinux", "k3s-selinux")


def _el_target(distribution: str, major: str) -> str:
    """install.sh's rpm_target for a RHEL-family release ('el7', 'el8' or 'el9')."""
    try:
        version = int(major)
    except (TypeError, ValueError):
        return "el9"
    if version == 7 or (distribution == "Amazon" and version == 2):
        return "el7"
    if version == 8 or version > 36:
        return "el8"
    return "el9"


def k3s_selinux_plan(facts: Mapping[str, Any], rpm_src: str = "", gpg_key_src: str = "") -> dict[str, str]:
    """What the k3s role does about SELinux on a host, from its facts (ansible_facts: selinux,
    os_family, distribution, distribution_major_version) and the air-gap inputs.

    action: 'none' (no SELinux, or disabled), 'install' (k3s-selinux from `source` 'repo' or 'rpm',
    `el` the repository's release, then label the binary) or 'refuse' (`message` says why and what
    to do)."""
    selinux = facts.get("selinux")
    selinux = selinux if isinstance(selinux, Mapping) else {}
    status = str(selinux.get("status", "disabled"))
    mode = str(selinux.get("mode", ""))
    family = str(facts.get("os_family", ""))
    distribution = str(facts.get("distribution", ""))
    if status == "disabled":
        return {"action": "none"}
    if status != "enabled":  # e.g. "Missing selinux Python library": the state cannot be read
        if family != "RedHat":
            return {"action": "none"}
        return {"action": "refuse", "message": (
            f"cannot read the SELinux state ({status}): install the SELinux Python bindings for the "
            "host's Python (python3-libselinux) so the k3s role can install k3s-selinux and label k3s")}
    if family != "RedHat":
        if mode != "enforcing":
            return {"action": "none"}
        return {"action": "refuse", "message": (
            f"SELinux is enforcing on this {distribution or family} host, and the k3s-selinux policy k3s "
            "needs exists only as an RPM for RHEL-family hosts (k3s install.sh): set SELinux to "
            "permissive (setenforce 0 and SELINUX=permissive in /etc/selinux/config), or install a k3s "
            "policy yourself and then set SELINUX to permissive for the first run")}
    el = _el_target(distribution, str(facts.get("distribution_major_version", "")))
    if rpm_src:
        if not gpg_key_src:
            return {"action": "refuse", "message": (
                f"k3s_selinux_rpm_src {rpm_src} needs k3s_selinux_gpg_key_src: a controller copy of "
                "https://rpm.rancher.io/public.key, the key that signs k3s-selinux (its signature is "
                "checked before it is installed)")}
        for name, path in (("k3s_selinux_rpm_src", rpm_src), ("k3s_selinux_gpg_key_src", gpg_key_src)):
            if not Path(path).is_file():  # filters run on the controller
                return {"action": "refuse", "message": (
                    f"{name} {path} is not a file on the controller: fix the path (the machine that runs "
                    "ansible-playbook)")}
        return {"action": "install", "source": "rpm", "el": el}
    return {"action": "install", "source": "repo", "el": el}
