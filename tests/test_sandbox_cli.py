"""`openshell-auto sandbox render` end to end (subprocess: the installed entry point's behaviour)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml

from ansible_collections.openshell_auto.cluster.plugins.module_utils import sandbox


def _cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "openshell_auto", "sandbox", *args],
                          capture_output=True, text=True, input=stdin, check=False)


def test_render_flags_to_yaml() -> None:
    run = _cli("render", "--name", "demo", "--image", "ubuntu:24.04", "--gpus", "2", "--namespace", "agents",
               "--env", "A=x: {y}", "--label", "team=ml", "--", "nvidia-smi", "-L")
    assert run.returncode == 0, run.stderr
    (pod,) = list(yaml.safe_load_all(run.stdout))
    assert pod == sandbox.render_pod(sandbox.parse_sandbox({
        "name": "demo", "image": "ubuntu:24.04", "gpus": 2, "namespace": "agents", "env": ["A=x: {y}"],
        "labels": ["team=ml"], "command": ["nvidia-smi", "-L"]}))
    assert pod["spec"]["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == "2"


def test_render_from_file_json(tmp_path: Path) -> None:
    f = tmp_path / "sb.yml"
    f.write_text(yaml.safe_dump({"sandboxes": [{"name": "a", "image": "ubuntu"}, {"name": "b", "image": "ubuntu", "gpus": 1}]}))
    run = _cli("render", "--from-file", str(f), "-o", "json")
    assert run.returncode == 0, run.stderr
    listed = json.loads(run.stdout)
    assert (listed["apiVersion"], listed["kind"]) == ("v1", "List")
    assert [p["metadata"]["name"] for p in listed["items"]] == ["a", "b"]
    stdin = _cli("render", "--from-file", "-", stdin=f.read_text())
    assert [d["metadata"]["name"] for d in yaml.safe_load_all(stdin.stdout)] == ["a", "b"]


def test_render_file_plus_flags_and_duplicate(tmp_path: Path) -> None:
    f = tmp_path / "sb.yml"
    f.write_text(yaml.safe_dump([{"name": "a", "image": "ubuntu"}]))
    both = _cli("render", "--from-file", str(f), "--name", "c", "--image", "ubuntu")
    assert [d["metadata"]["name"] for d in yaml.safe_load_all(both.stdout)] == ["a", "c"]
    dup = _cli("render", "--from-file", str(f), "--name", "a", "--image", "ubuntu")
    assert dup.returncode == 2 and "default/a is also defined in" in dup.stderr


def test_render_bad_input_exit_2_each_field_named() -> None:
    run = _cli("render", "--name", "Demo_1", "--image", "Ubuntu:latest", "--gpus", "9", "--env", "NVIDIA_VISIBLE_DEVICES=all")
    assert run.returncode == 2
    lines = run.stderr.splitlines()
    assert [line.split(":")[2].strip() for line in lines] == ["name", "image", "env.NVIDIA_VISIBLE_DEVICES", "gpus"]
    assert all(line.startswith("error: command line: ") for line in lines)
    assert run.stdout == ""


def test_render_bad_files(tmp_path: Path) -> None:
    missing = _cli("render", "--from-file", str(tmp_path / "nope.yml"))
    assert missing.returncode == 2 and "cannot read" in missing.stderr
    bad = tmp_path / "bad.yml"
    bad.write_text("sandboxes: [\n")
    assert "YAML/JSON syntax error in the sandbox file" in _cli("render", "--from-file", str(bad)).stderr
    bad.write_text(yaml.safe_dump({"sandboxes": [{"name": "x", "image": "ubuntu", "gpus": -1}]}))
    run = _cli("render", "--from-file", str(bad))
    assert run.returncode == 2 and "sandboxes[0] (x).gpus: must not be negative" in run.stderr


def test_render_requires_name_and_image() -> None:
    run = _cli("render")
    assert run.returncode == 2
    assert "name: is required" in run.stderr and "image: is required" in run.stderr


def test_max_gpus_option() -> None:
    assert _cli("render", "--name", "a", "--image", "ubuntu", "--gpus", "16", "--max-gpus", "16").returncode == 0


def test_render_from_inventory(tmp_path: Path) -> None:
    inv = tmp_path / "hosts.yml"
    inv.write_text(yaml.safe_dump({"all": {
        "vars": {"gpu_sandbox_sandboxes": [{"name": "inv-gpu", "image": "ubuntu", "gpus": 1, "env": {"A": "b: c"}}]},
        "children": {"openshell_servers": {"hosts": {"srv1": {}}}}}}))
    run = _cli("render", "-i", str(inv), "-o", "json")
    assert run.returncode == 0, run.stderr
    pod = json.loads(run.stdout)
    assert (pod["kind"], pod["metadata"]["name"]) == ("Pod", "inv-gpu")
    assert pod["spec"]["containers"][0]["resources"]["limits"] == {"nvidia.com/gpu": "1"}
    inv.write_text(yaml.safe_dump({"all": {
        "vars": {"gpu_sandbox_sandboxes": [{"name": "inv-gpu", "image": "ubuntu", "gpus": 9}]},
        "children": {"openshell_servers": {"hosts": {"srv1": {}}}}}}))
    bad = _cli("render", "-i", str(inv))
    assert bad.returncode == 2
    assert "host srv1: gpu_sandbox_sandboxes: sandboxes[0] (inv-gpu).gpus: 9 is more than the allowed maximum 8" in bad.stderr
    inv.write_text(yaml.safe_dump({"all": {
        "vars": {"gpu_sandbox_sandboxes": [{"name": "x", "image": "{{ my_image }}"}]},
        "children": {"openshell_servers": {"hosts": {"srv1": {}}}}}}))
    templ = _cli("render", "-i", str(inv))
    assert templ.returncode == 2 and "uses Jinja templates" in templ.stderr
