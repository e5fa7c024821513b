"""Sandbox model: rendering shape, validation messages, injection safety, schema validity."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from ansible_collections.openshell_auto.cluster.plugins.module_utils import sandbox
from ansible_collections.openshell_auto.cluster.plugins.module_utils.sandbox import SandboxError, parse_sandbox, parse_sandboxes, render_pod

GOOD: dict[str, Any] = {"name": "sb-1", "image": "nvcr.io/nvidia/cuda:12.8.1-base-ubuntu24.04"}


def _render(**kw: Any) -> dict[str, Any]:
    return render_pod(parse_sandbox({**GOOD, **kw}))


def test_gpu_pod_shape_matches_openshell() -> None:
    pod = _render(gpus=2, namespace="agents", id="abc123")
    assert pod["apiVersion"] == "v1" and pod["kind"] == "Pod"
    assert pod["metadata"] == {
        "name": "sb-1",
        "namespace": "agents",
        "labels": {"openshell.ai/sandbox-id": "abc123", "openshell.ai/managed-by": "openshell"},
    }
    (container,) = pod["spec"]["containers"]
    assert container["name"] == "agent"
    assert container["resources"] == {"limits": {"nvidia.com/gpu": "2"}}
    assert isinstance(container["resources"]["limits"]["nvidia.com/gpu"], str)
    assert "runtimeClassName" not in pod["spec"]
    assert "tolerations" not in pod["spec"]
    assert "env" not in container


def test_cpu_sandbox_has_no_gpu_limit_and_id_defaults_to_name() -> None:
    pod = _render()
    assert "resources" not in pod["spec"]["containers"][0]
    assert pod["metadata"]["labels"]["openshell.ai/sandbox-id"] == "sb-1"
    assert pod["metadata"]["namespace"] == "default"


def test_runtime_class_only_when_explicit() -> None:
    assert _render(gpus=1, runtime_class="nvidia")["spec"]["runtimeClassName"] == "nvidia"
    assert "runtimeClassName" not in _render(gpus=1, runtime_class="")["spec"]


def test_optional_fields_render() -> None:
    pod = _render(
        command=["sh", "-c", "echo hi"],
        args=["x"],
        env={"A": "1", "B_2": "two"},
        node_selector={"nvidia.com/gpu.present": "true"},
        tolerations=[{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
        labels={"team": "ml", "example.com/owner": "alice"},
        restart_policy="Never",
    )
    spec = pod["spec"]
    c = spec["containers"][0]
    assert c["command"] == ["sh", "-c", "echo hi"] and c["args"] == ["x"]
    assert c["env"] == [{"name": "A", "value": "1"}, {"name": "B_2", "value": "two"}]
    assert spec["nodeSelector"] == {"nvidia.com/gpu.present": "true"}
    assert spec["tolerations"] == [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]
    assert spec["restartPolicy"] == "Never"
    assert pod["metadata"]["labels"]["team"] == "ml"
    assert pod["metadata"]["labels"]["example.com/owner"] == "alice"


def test_env_accepts_key_value_list() -> None:
    pod = _render(env=["A=x=y", "B="])
    assert pod["spec"]["containers"][0]["env"] == [{"name": "A", "value": "x=y"}, {"name": "B", "value": ""}]


@pytest.mark.parametrize(
    "value",
    [
        "line1\nline2: x\n- item",
        'a": "b", "c": {"d": 1}',
        "}{][:,&*!|>'%@`#",
        "--- \n...\nkind: Secret",
        "${HOME} {{ lookup('pipe','id') }}",
    ],
)
def test_injection_stays_data(value: str) -> None:
    pod = _render(env={"V": value}, command=["echo", value], labels={"ok": "x"})
    for text, loader in (
        (sandbox.to_yaml([pod]), lambda t: list(yaml.safe_load_all(t))),
        (sandbox.to_json([pod]), json.loads),
    ):
        back = loader(text)
        back = back[0] if isinstance(back, list) else back
        assert back == pod
        assert back["spec"]["containers"][0]["env"][0]["value"] == value
        assert back["spec"]["containers"][0]["command"][1] == value


def test_multi_document_yaml_and_json_for_kubectl() -> None:
    """kubectl apply -f - takes one object or a v1 List, never a bare array."""
    pods = sandbox.render_pods(parse_sandboxes([{**GOOD}, {**GOOD, "name": "sb-2", "gpus": 1}]))
    docs = list(yaml.safe_load_all(sandbox.to_yaml(pods)))
    assert [d["metadata"]["name"] for d in docs] == ["sb-1", "sb-2"]
    several = json.loads(sandbox.to_json(pods))
    assert (several["apiVersion"], several["kind"]) == ("v1", "List")
    assert [d["metadata"]["name"] for d in several["items"]] == ["sb-1", "sb-2"]
    one = json.loads(sandbox.to_json(pods[:1]))
    assert (one["kind"], one["metadata"]["name"]) == ("Pod", "sb-1")


def test_parse_sandboxes_accepts_mapping_keys() -> None:
    for key in ("sandboxes", "gpu_sandbox_sandboxes"):
        assert [s.name for s in parse_sandboxes({key: [GOOD]})] == ["sb-1"]
    assert parse_sandboxes({"sandboxes": None}) == []


def test_gpus_limit_is_configurable() -> None:
    assert parse_sandbox({**GOOD, "gpus": 16}, max_gpus=16).gpus == 16
    with pytest.raises(SandboxError, match="more than the allowed maximum 8"):
        parse_sandbox({**GOOD, "gpus": 16})


@pytest.mark.parametrize(
    "image",
    [
        "ubuntu",
        "ubuntu:24.04",
        "docker.io/library/ubuntu:24.04",
        "nvcr.io/nvidia/cuda:12.8.1-base-ubuntu24.04",
        "localhost:5000/team/agent_image__x:v1.2-rc.3",
        "registry.example.com:443/a/b/c@sha256:" + "a" * 64,
        "ghcr.io/org/img:tag@sha256:" + "0123456789abcdef" * 4,
        "[::1]:5000/img:1",
    ],
)
def test_valid_images(image: str) -> None:
    assert parse_sandbox({**GOOD, "image": image}).image == image


# (input overrides, field named in the message, fragment of the message) -- 30+ distinct bad inputs
BAD: list[tuple[dict[str, Any], str, str]] = [
    ({"name": None}, "name", "is required"),
    ({"name": "My-Sandbox"}, "name", "not an RFC 1123 label"),
    ({"name": "sb_1"}, "name", "not an RFC 1123 label"),
    ({"name": "-sb"}, "name", "starting and ending with a letter or digit"),
    ({"name": "sb-"}, "name", "not an RFC 1123 label"),
    ({"name": "a" * 64}, "name", "64 characters; at most 63"),
    ({"name": "a.b"}, "name", "not an RFC 1123 label"),
    ({"name": 12}, "name", "must be a string"),
    ({"namespace": "Kube_System"}, "namespace", "not an RFC 1123 label"),
    ({"namespace": "n" * 64}, "namespace", "at most 63"),
    ({"image": None}, "image", "is required"),
    ({"image": ""}, "image", "image is empty"),
    ({"image": "Ubuntu:24.04"}, "image", "not a valid image reference"),
    ({"image": "ubuntu:24.04 ; rm -rf /"}, "image", "not a valid image reference"),
    ({"image": "ubuntu:" + "t" * 129}, "image", "not a valid image reference"),
    ({"image": "ubuntu@sha256:abc"}, "image", "not a valid image reference"),
    ({"image": "registry.io//img"}, "image", "not a valid image reference"),
    ({"image": "img:tag\nkind: Secret"}, "image", "not a valid image reference"),
    ({"image": "r.io/" + "a" * 260}, "image", "at most 255"),
    ({"gpus": -1}, "gpus", "must not be negative"),
    ({"gpus": 9}, "gpus", "more than the allowed maximum 8"),
    ({"gpus": 1.5}, "gpus", "whole number of GPUs"),
    ({"gpus": True}, "gpus", "whole number of GPUs"),
    ({"gpus": "two"}, "gpus", "whole number of GPUs"),
    ({"env": {"1ABC": "x"}}, "env.1ABC", "not starting with a digit"),
    ({"env": {"A B": "x"}}, "env.A B", "environment variable name 'A B' is invalid"),
    ({"env": {"NVIDIA_VISIBLE_DEVICES": "all"}}, "env.NVIDIA_VISIBLE_DEVICES", "NVIDIA_* variables"),
    ({"env": {"PORT": 8080}}, "env.PORT", "value must be a string"),
    ({"env": ["NOEQUALS"]}, "env[0]", "must be a 'KEY=VALUE' string"),
    ({"env": "A=1"}, "env", "must be a mapping"),
    ({"env": ["A=1", "A=2"]}, "env.A", "is given twice"),
    ({"command": "nvidia-smi -L"}, "command", "must be a list of strings"),
    ({"command": ["echo", 1]}, "command[1]", "must be a string"),
    ({"runtime_class": "Nvidia"}, "runtime_class", "not an RFC 1123 subdomain"),
    ({"runtime_class": 5}, "runtime_class", "must be a string"),
    ({"node_selector": {"bad key!": "x"}}, "node_selector.bad key!", "label key name"),
    ({"node_selector": {"ok": "-bad"}}, "node_selector.ok", "label value '-bad' is invalid"),
    ({"node_selector": {"Ex_ample.com/x": "y"}}, "node_selector.Ex_ample.com/x", "label key prefix"),
    ({"labels": {"team": "v" * 64}}, "labels.team", "at most 63"),
    ({"labels": {"/x": "y"}}, "labels./x", "empty prefix"),
    ({"labels": {"openshell.ai/managed-by": "me"}}, "labels.openshell.ai/managed-by", "cannot be overridden"),
    ({"labels": {"k": "a\nb"}}, "labels.k", "label value"),
    ({"id": "has space"}, "id", "label value 'has space' is invalid"),
    ({"tolerations": {"key": "x"}}, "tolerations", "must be a list of mappings"),
    ({"tolerations": [{"key": "x", "operator": "Maybe"}]}, "tolerations[0].operator", "not one of Exists, Equal"),
    ({"tolerations": [{"key": "x", "operator": "Exists", "value": "y"}]}, "tolerations[0].value", "must be empty when operator is Exists"),
    ({"tolerations": [{"key": "x", "value": "y", "effect": "Sometimes"}]}, "tolerations[0].effect", "is not one of NoSchedule"),
    ({"tolerations": [{"key": "x", "value": "y", "toleration_seconds": 5}]}, "tolerations[0].toleration_seconds", "only allowed with effect NoExecute"),
    ({"tolerations": [{"key": "x", "colour": "red"}]}, "tolerations[0]", "unknown field(s) colour"),
    ({"restart_policy": "Sometimes"}, "restart_policy", "not one of Always, OnFailure, Never"),
    ({"gpu": 1}, "sandbox", "unknown field(s) gpu"),
]


@pytest.mark.parametrize("override,fld,fragment", BAD, ids=[f"{i}-{b[1]}" for i, b in enumerate(BAD)])
def test_bad_input_names_field(override: dict[str, Any], fld: str, fragment: str) -> None:
    with pytest.raises(SandboxError) as info:
        parse_sandbox({**GOOD, **override})
    fields = [f for f, _ in info.value.problems]
    assert fld in fields, info.value.problems
    msg = dict(info.value.problems)[fld]
    assert fragment in msg
    assert f"{fld}: " in str(info.value)


def test_bad_input_count() -> None:
    assert len({repr(b[0]) for b in BAD}) >= 25


def test_all_problems_reported_at_once() -> None:
    with pytest.raises(SandboxError) as info:
        parse_sandbox({"name": "X", "image": "Bad", "gpus": -2})
    assert {f for f, _ in info.value.problems} == {"name", "image", "gpus"}


def test_duplicate_names_and_item_index_in_list() -> None:
    with pytest.raises(SandboxError) as info:
        parse_sandboxes([GOOD, {**GOOD, "gpus": 1}, {**GOOD, "name": "x", "image": "BAD"}], source="sb.yml")
    text = str(info.value)
    assert "sb.yml: sandboxes[1].name: default/sb-1 is already defined by sandboxes[0]" in text
    assert "sandboxes[2] (x).image" in text
    # same name in another namespace is fine
    assert len(parse_sandboxes([GOOD, {**GOOD, "namespace": "other"}])) == 2


def test_non_mapping_inputs() -> None:
    with pytest.raises(SandboxError, match="must be a mapping"):
        parse_sandbox(["x"])  # type: ignore[arg-type]
    with pytest.raises(SandboxError, match="must be a list of sandbox mappings"):
        parse_sandboxes("x")
    with pytest.raises(SandboxError, match="mapping with key 'sandboxes'"):
        parse_sandboxes({"other": []})


def test_smoke_pod_shape() -> None:
    pod = sandbox.smoke_pod()
    c = pod["spec"]["containers"][0]
    assert c["command"] == ["nvidia-smi", "-L"]
    assert c["resources"]["limits"] == {"nvidia.com/gpu": "1"}
    assert pod["spec"]["restartPolicy"] == "Never"
    assert "runtimeClassName" not in pod["spec"]
