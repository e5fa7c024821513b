"""k3s config.yaml per node, rendered from the role's template by openshell_auto.render."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from openshell_auto.render import render_inventory
from openshell_auto.rendered_files import RENDERED_FILES, RenderedFile

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


def test_data_dir_is_given_to_k3s_when_not_the_default(tmp_path: Path) -> None:
    """k3s reads its data directory from data-dir (k3s --data-dir); the default writes nothing."""
    default = render(tmp_path / "default")
    assert all("data-dir" not in conf for conf in default.values())
    moved = render(tmp_path / "moved", k3s_data_dir="/srv/k3s")
    assert {host: conf.get("data-dir") for host, conf in moved.items()} == {
        "server1": "/srv/k3s", "gpu1": "/srv/k3s", "gpu2": "/srv/k3s"}
    # A trailing `/` is refused before anything runs (reset removes this path: it must be normalised).


UNIT = RenderedFile("k3s", "k3s.service.j2", "/etc/systemd/system/{{ __k3s_service }}.service", "all", "unit")


def test_units_match_the_install_script(tmp_path: Path) -> None:
    """k3s-io/k3s install.sh (create_systemd_service_file): Type=notify on servers and agents
    (SYSTEMD_TYPE defaults to notify) and EnvironmentFile=-<systemd dir>/<unit>.service.env."""
    result = render_inventory(INVENTORY, tmp_path / "out", [], registry=[UNIT])
    units = {h.host: dict(h.files) for h in result.hosts}
    expected = {"server1": "k3s", "gpu1": "k3s-agent", "gpu2": "k3s-agent"}
    for host, name in expected.items():
        text = units[host][f"/etc/systemd/system/{name}.service"].read_text()
        service = text.split("[Service]\n", 1)[1].splitlines()
        assert "Type=notify" in service, (host, text)
        assert service[1:4] == ["EnvironmentFile=-/etc/default/%N", "EnvironmentFile=-/etc/sysconfig/%N",
                                f"EnvironmentFile=-/etc/systemd/system/{name}.service.env"], (host, text)
        mode = "server" if name == "k3s" else "agent"
        assert service[-1] == f"ExecStart=/usr/local/bin/k3s {mode} --config /etc/rancher/k3s/config.yaml"
