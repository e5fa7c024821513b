"""Which k3s releases the project accepts, and what a release embeds: one reading of k3s_version
for the CLI's inventory check and for the k3s role (filters k3s_version_problem, used by the role's
own checks and by playbooks/preflight.yml, and k3s_embeds_containerd_1_7).

The GPU reaches a pod only as a CDI device name: the device plugin (deviceListStrategy cdi-cri)
hands the kubelet CDI names, and the kubelet passes them to the runtime only where its feature gate
DevicePluginCDIDevices is on. That gate is alpha (off) in Kubernetes 1.28, beta and on by default
from 1.29, GA in 1.31 (kubernetes/website, content/en/docs/reference/command-line-tools-reference/
feature-gates/device-plugin-cdi-devices.md). k3s releases carry the Kubernetes version they embed
(v1.29.0+k3s1 is Kubernetes 1.29.0), so the first k3s that works is v1.29.0+k3s1.
"""

from __future__ import annotations

import re

K3S_VERSION_FORMAT = re.compile(r"^v([0-9]+)\.([0-9]+)\.([0-9]+)\+k3s([0-9]+)$")
MIN_K3S_VERSION = "v1.29.0+k3s1"
EXAMPLE = "v1.35.2+k3s1"


def parse(value: str) -> tuple[int, int, int, int] | None:
    """(major, minor, patch, k3s build) of a release name like v1.35.2+k3s1; None otherwise."""
    match = K3S_VERSION_FORMAT.fullmatch(value)  # `$` alone would accept a trailing newline
    if match is None:
        return None
    major, minor, patch, build = (int(part) for part in match.groups())
    return major, minor, patch, build


def embeds_containerd_1_7(value: object) -> bool:
    """Whether a k3s release embeds containerd 1.7 (CDI off unless enable_cdi = true): releases
    before v1.31.6+k3s1, and v1.32.0 to v1.32.1; containerd 2.x from v1.31.6+k3s1 / v1.32.2+k3s1 on.
    False for a value that is no release name (k3s_version_problem refuses it)."""
    release = parse(str(value))
    if release is None:
        return False
    kubernetes = release[:3]
    return kubernetes < (1, 31, 6) or (1, 32, 0) <= kubernetes < (1, 32, 2)


def k3s_version_problem(value: object) -> str:
    """What is wrong with a k3s_version value ('' when nothing): not a release name, or a release
    older than MIN_K3S_VERSION. The text names the value, the minimum and the fix."""
    text = str(value)
    release = parse(text)
    if release is None:
        return f"'{text}' is not a k3s release name; set it like {EXAMPLE} (the release tag on GitHub)"
    minimum = parse(MIN_K3S_VERSION)
    assert minimum is not None
    if release < minimum:
        return (f"'{text}' is older than {MIN_K3S_VERSION}, the first k3s whose kubelet passes CDI device "
                "names to the container runtime (feature gate DevicePluginCDIDevices, on by default from "
                f"Kubernetes 1.29): GPU pods would get no GPU; set k3s_version to {MIN_K3S_VERSION} or later "
                f"(e.g. {EXAMPLE}, the default)")
    return ""
