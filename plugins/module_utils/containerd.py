"""k3s's containerd config: whether it lets the CRI CDI devices through. One rule for the k3s
role (its containerd 1.7 template filter) and the doctor."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

CRI_V2 = "io.containerd.grpc.v1.cri"  # config version 2 (containerd 1.7)
CRI_V3 = "io.containerd.cri.v1.runtime"  # config version 3 (containerd 2.x)


def config_version(conf: Mapping[str, Any]) -> int:
    try:
        return int(conf.get("version") or 1)
    except (TypeError, ValueError):
        return 1


def cdi_enabled(conf: Mapping[str, Any]) -> bool:
    """A parsed containerd config passes CDI devices through: version 3 (containerd 2.x) unless
    enable_cdi = false; version 2 (containerd 1.7) only with enable_cdi = true."""
    plugins = conf.get("plugins")
    plugins = plugins if isinstance(plugins, Mapping) else {}
    if config_version(conf) >= 3:
        cri = plugins.get(CRI_V3)
        return not isinstance(cri, Mapping) or cri.get("enable_cdi", True) is True
    cri = plugins.get(CRI_V2)
    return isinstance(cri, Mapping) and cri.get("enable_cdi") is True
