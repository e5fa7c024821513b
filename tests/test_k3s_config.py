"""k3s config.yaml per node, rendered from the role's template by openshell_auto.render."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from openshell_auto.render import render_inventory
from openshell_auto.rendered_files import RENDERED_FILES

INVENTORY = Path(__file__).resolve().parent.parent / "inventories" / "example" / "hosts.yml"
ENTRY = [e for e in RENDERED_FILES if e.role == "k3s"]
CONFIG = "/etc/rancher/k3s/config.yaml"


def render(tmp_path: Path, **extra: Any) -> dict[str, dict[str, Any]]:
    result = render_inventory(INVENTORY, tmp_path / "out", [json.dumps(extra)] if extra else [], registry=ENTRY)
    return {h.host: yaml.safe_load(dict(h.files)[CONFIG].read_text()) for h in result.hosts}


def test_server_and_gpu_agents(tmp_path: Path) -> None:
    conf = render(tmp_path)
    assert set(conf) == {"server1", "gpu1", "gpu2"}
    assert conf["server1"] == {
        "node-name": "server1",
        "token-file": "/etc/rancher/k3s/token",
        "write-kubeconfig-mode": "0600",
        "https-listen-port": 6443,
        "tls-san": ["192.0.2.10"],  # no facts offline: the first server's ansible_host
    }
    for agent in ("gpu1", "gpu2"):
        assert conf[agent] == {
            "node-name": agent,
            "token-file": "/etc/rancher/k3s/token",
            "server": "https://192.0.2.10:6443",
            "node-label": ["nvidia.com/gpu.present=true"],
        }


def test_token_never_in_config(tmp_path: Path) -> None:
    conf = render(tmp_path, k3s_token="s3cret-token")
    for host, data in conf.items():
        assert "s3cret-token" not in json.dumps(data), host


def test_extra_config_endpoint_labels(tmp_path: Path) -> None:
    conf = render(tmp_path, k3s_api_endpoint="k3s.example.internal", k3s_api_port=7443,
                  k3s_node_labels=["zone=a"], openshell_gpu_node_label="example.com/gpu=yes",
                  k3s_extra_config={"kubelet-arg": ["max-pods=50"]},
                  k3s_server_extra_config={"disable": ["traefik"], "write-kubeconfig-mode": "0640"},
                  k3s_agent_extra_config={"node-ip": "10.0.0.5"})
    assert conf["server1"]["tls-san"] == ["k3s.example.internal"]
    assert conf["server1"]["https-listen-port"] == 7443
    assert conf["server1"]["disable"] == ["traefik"]
    assert conf["server1"]["write-kubeconfig-mode"] == "0640"
    assert conf["server1"]["node-label"] == ["zone=a"]
    assert "node-ip" not in conf["server1"]
    assert conf["gpu1"]["server"] == "https://k3s.example.internal:7443"
    assert conf["gpu1"]["node-label"] == ["zone=a", "example.com/gpu=yes"]
    assert conf["gpu1"]["node-ip"] == "10.0.0.5"
    assert conf["gpu1"]["kubelet-arg"] == ["max-pods=50"]
    assert "disable" not in conf["gpu1"]
