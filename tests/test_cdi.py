"""CDI rules (plugins/module_utils/cdi.py), the nvidia_cdi role's filter, and the nvidia-ctk test double.

Specs come from running the fake nvidia-ctk (tests/doubles/nvidia-toolkit) against a temporary
dev root with 1 and 2 GPU device nodes, and from hand-written bad specs each rule must reject.
"""

from __future__ import annotations

import base64
import copy
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from ansible_collections.openshell_auto.cluster.plugins.module_utils import cdi

ROOT = Path(__file__).resolve().parents[1]
DOUBLE = ROOT / "tests" / "doubles" / "nvidia-toolkit" / "nvidia-ctk"
DRIVER = "NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  580.95.05  Release Build  (tests)\n"


@pytest.fixture()
def ctk(tmp_path: Path) -> Path:
    """The nvidia-ctk double with its version filled in, as the fixture .deb ships it."""
    path = tmp_path / "nvidia-ctk"
    path.write_text(DOUBLE.read_text().replace("@VERSION@", "1.18.2"))
    path.chmod(0o755)
    return path


def make_host(root: Path, gpus: int, driver: bool = True) -> dict[str, str]:
    (root / "dev").mkdir(parents=True)
    for name in ["nvidiactl", "nvidia-uvm", "nvidia-uvm-tools"] + [f"nvidia{i}" for i in range(gpus)]:
        (root / "dev" / name).touch()
    version_file = root / "driver-version"
    if driver:
        version_file.write_text(DRIVER)
    return {**os.environ, "NVIDIA_CTK_FAKE_DRIVER_VERSION_FILE": str(version_file)}


def run(ctk: Path, args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(ctk), *args], env=env, capture_output=True, text=True, timeout=30)


def generate(ctk: Path, root: Path, gpus: int, *extra: str, fmt: str = "yaml") -> tuple[dict[str, Any], Path]:
    env = make_host(root, gpus)
    out = root / "cdi" / f"nvidia.{fmt}"
    result = run(ctk, ["cdi", "generate", "--output", str(out), "--format", fmt, "--dev-root", str(root),
                       "--nvidia-cdi-hook-path", "/usr/bin/nvidia-cdi-hook", *extra], env)
    assert result.returncode == 0, result.stderr
    text = out.read_text()
    return (json.loads(text) if fmt == "json" else yaml.safe_load(text)), out


# --- specs the double produces -------------------------------------------------------------------


@pytest.mark.parametrize("gpus", [1, 2])
@pytest.mark.parametrize("fmt", ["yaml", "json"])
def test_double_index_spec_is_valid_and_has_index_names(ctk: Path, tmp_path: Path, gpus: int, fmt: str) -> None:
    spec, path = generate(ctk, tmp_path, gpus, "--device-name-strategy", "index", fmt=fmt)
    assert cdi.validate_spec(spec, str(path)) == []
    assert spec["cdiVersion"] in cdi.VALID_CDI_VERSIONS and spec["cdiVersion"] >= "0.5.0"
    assert spec["kind"] == "nvidia.com/gpu"
    assert [d["name"] for d in spec["devices"]] == [str(i) for i in range(gpus)] + ["all"]
    nodes = {d["name"]: [n["path"] for n in d["containerEdits"]["deviceNodes"]] for d in spec["devices"]}
    assert nodes["all"] == [f"/dev/nvidia{i}" for i in range(gpus)]
    assert nodes["0"] == ["/dev/nvidia0"]
    edits = spec["containerEdits"]
    assert "NVIDIA_VISIBLE_DEVICES=void" in edits["env"]
    assert {"/dev/nvidiactl", "/dev/nvidia-uvm"} <= {n["path"] for n in edits["deviceNodes"]}
    hooks = edits["hooks"]
    assert {h["path"] for h in hooks} == {"/usr/bin/nvidia-cdi-hook"}
    assert {h["args"][1] for h in hooks} >= {"create-symlinks", "update-ldcache", "enable-cuda-compat",
                                             "disable-device-node-modification"}
    listed = run(ctk, ["cdi", "list", "--spec-dir", str(path.parent)], dict(os.environ))
    assert listed.returncode == 0
    assert listed.stdout.split() == [f"nvidia.com/gpu={i}" for i in range(gpus)] + ["nvidia.com/gpu=all"]
    assert f"Found {gpus + 1} CDI devices" in listed.stderr
    assert cdi.missing_names(listed.stdout.split(), gpus) == []


def test_double_default_strategies_give_index_and_uuid_names(ctk: Path, tmp_path: Path) -> None:
    spec, path = generate(ctk, tmp_path, 2)
    assert cdi.validate_spec(spec, str(path)) == []
    names = [d["name"] for d in spec["devices"]]
    assert names[:1] == ["0"] and names[-1] == "all"
    assert len([n for n in names if n.startswith("GPU-")]) == 2
    assert cdi.missing_names([f"nvidia.com/gpu={n}" for n in names], 2, "uuid") == []


def test_double_reads_the_refresh_env_variables(ctk: Path, tmp_path: Path) -> None:
    """nvidia-cdi-refresh.service passes options only through the env file: same spec as flags."""
    flags_spec, _ = generate(ctk, tmp_path / "a", 2, "--device-name-strategy", "index")
    env = make_host(tmp_path / "b", 2)
    out = tmp_path / "b" / "cdi" / "nvidia.yaml"
    env.update({
        "NVIDIA_CTK_CDI_OUTPUT_FILE_PATH": str(out),
        "NVIDIA_CTK_CDI_GENERATE_OUTPUT_FORMAT": "yaml",
        "NVIDIA_CTK_CDI_GENERATE_MODE": "auto",
        "NVIDIA_CTK_CDI_GENERATE_DEVICE_NAME_STRATEGIES": "index",
        "NVIDIA_CTK_DEV_ROOT": str(tmp_path / "b"),
        "NVIDIA_CTK_DRIVER_ROOT": "/",
        "NVIDIA_CTK_CDI_HOOK_PATH": "/usr/bin/nvidia-cdi-hook",
    })
    result = run(ctk, ["cdi", "generate"], env)
    assert result.returncode == 0, result.stderr
    assert yaml.safe_load(out.read_text()) == flags_spec


def test_double_fails_like_the_real_tool_without_driver(ctk: Path, tmp_path: Path) -> None:
    env = make_host(tmp_path, 1, driver=False)
    result = run(ctk, ["cdi", "generate", "--dev-root", str(tmp_path)], env)
    assert result.returncode == 1
    assert "failed to initialize NVML: ERROR_LIBRARY_NOT_FOUND" in result.stderr


def test_double_rejects_unknown_flags_and_values(ctk: Path, tmp_path: Path) -> None:
    env = make_host(tmp_path, 1)
    assert "flag provided but not defined" in run(ctk, ["cdi", "generate", "--bogus", "x"], env).stderr
    assert "invalid discovery mode" in run(ctk, ["cdi", "generate", "--mode", "nope"], env).stderr
    assert run(ctk, ["--version"], env).stdout.startswith("NVIDIA Container Toolkit CLI version 1.18.2")


# --- the double's WSL2 and Jetson (csv) modes -----------------------------------------------------
# NVIDIA/nvidia-container-toolkit v1.18.2: pkg/nvcdi/lib-wsl.go writes ONE device `all` (/dev/dxg);
# pkg/nvcdi/lib-csv.go writes device 0 (uuid names skipped) and the merged `all`
# (pkg/nvcdi/transform/merged-device.go); a device without edits is refused when the spec is written
# (container-device-interface v1.1.0 pkg/cdi/device.go).


def wsl_root(root: Path, dxg: bool = True, dxcore: bool = True) -> Path:
    lib = root / "usr" / "lib" / "wsl" / "lib"
    lib.mkdir(parents=True)
    (root / "dev").mkdir()
    if dxg:
        (root / "dev" / "dxg").touch()
    if dxcore:
        (lib / "libdxcore.so").touch()
    for name in ("libcuda.so.1.1", "libnvidia-ml.so.1", "nvidia-smi"):
        (lib / name).touch()
    return root


def no_driver_env() -> dict[str, str]:
    env = dict(os.environ)
    env["NVIDIA_CTK_FAKE_DRIVER_VERSION_FILE"] = "/nonexistent/openshell-test-driver-version"
    return env


@pytest.mark.parametrize("mode", ["auto", "wsl"])
@pytest.mark.parametrize("strategy", ["index", "uuid"])
def test_double_wsl_mode_writes_one_device_named_all(ctk: Path, tmp_path: Path, mode: str, strategy: str) -> None:
    root = wsl_root(tmp_path / "wsl")
    out = tmp_path / "cdi" / "nvidia.yaml"
    result = run(ctk, ["cdi", "generate", "--mode", mode, "--driver-root", str(root), "--output", str(out),
                       "--device-name-strategy", strategy], no_driver_env())
    assert result.returncode == 0, result.stderr
    spec = yaml.safe_load(out.read_text())
    assert cdi.validate_spec(spec, str(out)) == []
    assert spec["devices"] == [{"name": "all", "containerEdits": {"deviceNodes": [{"path": "/dev/dxg"}]}}]
    mounts = {m["containerPath"] for m in spec["containerEdits"]["mounts"]}
    assert "/usr/lib/wsl/lib/libdxcore.so" in mounts
    listed = run(ctk, ["cdi", "list", "--spec-dir", str(out.parent)], dict(os.environ)).stdout.split()
    assert listed == ["nvidia.com/gpu=all"]
    assert cdi.missing_names(listed, 2, strategy, platform="wsl") == []
    assert cdi.missing_names(listed, 2, strategy) != []  # the NVML rule would refuse it


def test_double_wsl_mode_fails_like_upstream(ctk: Path, tmp_path: Path) -> None:
    no_dxg = run(ctk, ["cdi", "generate", "--mode", "wsl", "--driver-root", str(wsl_root(tmp_path / "a", dxg=False))],
                 no_driver_env())
    assert no_dxg.returncode == 1
    assert 'failed add device "all": invalid device, empty device edits' in no_dxg.stderr
    no_dxcore = run(ctk, ["cdi", "generate", "--mode", "wsl", "--driver-root",
                          str(wsl_root(tmp_path / "b", dxcore=False))], no_driver_env())
    assert no_dxcore.returncode == 1
    assert "failed to initialize dxcore" in no_dxcore.stderr


def jetson_root(root: Path) -> tuple[Path, Path]:
    (root / "dev").mkdir(parents=True)
    (root / "etc").mkdir()
    (root / "etc" / "nv_tegra_release").write_text("# R36 (release), REVISION: 4.3\n")
    (root / "dev" / "nvmap").touch()
    (root / "usr" / "lib" / "aarch64-linux-gnu" / "tegra").mkdir(parents=True)
    (root / "usr" / "lib" / "aarch64-linux-gnu" / "tegra" / "libcuda.so.1.1").touch()
    csv = root / "l4t.csv"
    csv.write_text("dev, /dev/nvmap\nlib, /usr/lib/aarch64-linux-gnu/tegra/libcuda.so.1.1\n")
    return root, csv


@pytest.mark.parametrize(("strategies", "names"), [(["index"], ["0", "all"]), (["index", "uuid"], ["0", "all"]),
                                                   (["type-index"], ["gpu0", "all"])])
def test_double_csv_mode_writes_device_0_and_all(ctk: Path, tmp_path: Path, strategies: list[str],
                                                 names: list[str]) -> None:
    root, csv = jetson_root(tmp_path / "jetson")
    out = tmp_path / "cdi" / "nvidia.json"
    args = ["cdi", "generate", "--driver-root", str(root), "--csv.file", str(csv), "--output", str(out)]
    result = run(ctk, args + [a for s in strategies for a in ("--device-name-strategy", s)], no_driver_env())
    assert result.returncode == 0, result.stderr
    assert "Auto-detected mode as 'csv'" in result.stderr  # Tegra files and no NVML
    spec = json.loads(out.read_text())
    assert cdi.validate_spec(spec, str(out)) == []
    assert [d["name"] for d in spec["devices"]] == names
    assert spec["devices"][0]["containerEdits"]["deviceNodes"] == [{"path": "/dev/nvmap"}]
    if names[0] == "0":
        assert cdi.missing_names([f"nvidia.com/gpu={n}" for n in names], 1, "index", platform="tegra-csv") == []


def test_double_csv_mode_fails_like_upstream(ctk: Path, tmp_path: Path) -> None:
    root, csv = jetson_root(tmp_path / "jetson")
    uuid_only = run(ctk, ["cdi", "generate", "--mode", "csv", "--driver-root", str(root), "--csv.file", str(csv),
                          "--device-name-strategy", "uuid"], no_driver_env())
    assert uuid_only.returncode == 1 and "no names defined" in uuid_only.stderr
    empty = run(ctk, ["cdi", "generate", "--mode", "csv", "--driver-root", str(root),
                      "--csv.file", str(tmp_path / "missing.csv")], no_driver_env())
    assert empty.returncode == 1 and 'failed add device "0": invalid device, empty device edits' in empty.stderr


def test_yml_spec_files_are_not_specs(ctk: Path, tmp_path: Path) -> None:
    """container-device-interface v1.1.0 pkg/cdi/spec-dirs.go reads .json and .yaml only; nvidia-ctk
    (pkg/nvcdi/spec/spec.go normalizePath) turns an --output of nvidia.yml into nvidia.yml.yaml."""
    env = make_host(tmp_path / "host", 1)
    spec_dir = tmp_path / "cdi"
    out = run(ctk, ["cdi", "generate", "--dev-root", str(tmp_path / "host"), "--output", str(spec_dir / "nvidia.yml"),
                    "--device-name-strategy", "index"], env)
    assert out.returncode == 0, out.stderr
    assert sorted(p.name for p in spec_dir.iterdir()) == ["nvidia.yml.yaml"]
    (spec_dir / "nvidia.yml.yaml").rename(spec_dir / "other.yml")
    assert run(ctk, ["cdi", "list", "--spec-dir", str(spec_dir)], env).stdout.split() == []


def test_required_names_per_platform() -> None:
    assert cdi.required_names(2) == ["nvidia.com/gpu=0", "nvidia.com/gpu=1", "nvidia.com/gpu=all"]
    assert cdi.required_names(2, platform="wsl") == ["nvidia.com/gpu=all"]
    assert cdi.required_names(1, platform="tegra-csv") == ["nvidia.com/gpu=0", "nvidia.com/gpu=all"]
    with pytest.raises(ValueError, match="platform 'bogus'"):
        cdi.required_names(1, platform="bogus")


# --- rules: accepted values -----------------------------------------------------------------------


def good_spec() -> dict[str, Any]:
    return {
        "cdiVersion": "0.5.0",
        "kind": "nvidia.com/gpu",
        "devices": [
            {"name": "0", "containerEdits": {"deviceNodes": [{"path": "/dev/nvidia0"}]}},
            {"name": "all", "containerEdits": {"deviceNodes": [{"path": "/dev/nvidia0"}]}},
        ],
        "containerEdits": {
            "env": ["NVIDIA_VISIBLE_DEVICES=void"],
            "deviceNodes": [{"path": "/dev/nvidiactl"}],
            "hooks": [{"hookName": "createContainer", "path": "/usr/bin/nvidia-cdi-hook",
                       "args": ["nvidia-cdi-hook", "update-ldcache"]}],
            "mounts": [{"hostPath": "/usr/lib/libcuda.so.1", "containerPath": "/usr/lib/libcuda.so.1",
                        "options": ["ro", "nosuid", "nodev", "rbind", "rprivate"]}],
        },
    }


@pytest.mark.parametrize("version", ["0.3.0", "0.4.0", "0.5.0", "0.6.0", "0.7.0", "0.8.0", "1.0.0", "1.1.0"])
def test_every_listed_cdi_version_is_accepted(version: str) -> None:
    spec = good_spec()
    spec["cdiVersion"] = version
    assert cdi.validate_spec(spec) == []


@pytest.mark.parametrize("name", ["nvidia.com/gpu=0", "nvidia.com/gpu=all", "vendor_x.y/cls-1=dev:1.a",
                                  "a/b=GPU-7b0a6e1c-0000-1111-2222-333344445555"])
def test_valid_qualified_names(name: str) -> None:
    assert cdi.parse_qualified_name(name) is not None


@pytest.mark.parametrize("name", ["nvidia.com=0", "nvidia.com/gpu", "1vendor/gpu=0", "vendor-/gpu=0",
                                  "vendor/gpu_=0", "vendor/9gpu=0", "vendor/gpu=-0", "vendor/gpu=0.",
                                  "vendor/gpu=a b", "vendor/gpu=", "ven dor/gpu=0"])
def test_invalid_qualified_names(name: str) -> None:
    assert cdi.parse_qualified_name(name) is None


# --- rules: hand-written bad specs, one rule each -------------------------------------------------


def mutate(change: Any) -> dict[str, Any]:
    spec = good_spec()
    change(spec)
    return spec


BAD_SPECS: dict[str, tuple[Any, str]] = {
    "not a mapping": (["cdiVersion", "0.5.0"], "must be a mapping"),
    "missing cdiVersion": (mutate(lambda s: s.pop("cdiVersion")), "'cdiVersion' is missing"),
    "old cdiVersion": (mutate(lambda s: s.update(cdiVersion="0.2.0")), "cdiVersion '0.2.0' is not valid"),
    "future cdiVersion": (mutate(lambda s: s.update(cdiVersion="2.0.0")), "cdiVersion '2.0.0' is not valid"),
    "missing kind": (mutate(lambda s: s.pop("kind")), "'kind' is missing"),
    "kind without class": (mutate(lambda s: s.update(kind="nvidia.com")), "must read vendor/class"),
    "bad vendor": (mutate(lambda s: s.update(kind="-nvidia.com/gpu")), "vendor '-nvidia.com'"),
    "vendor ends badly": (mutate(lambda s: s.update(kind="nvidia.com./gpu")), "vendor 'nvidia.com.'"),
    "bad class": (mutate(lambda s: s.update(kind="nvidia.com/gpu-")), "class 'gpu-'"),
    "class with slash": (mutate(lambda s: s.update(kind="nvidia.com/g/pu")), "class 'g/pu'"),
    "missing devices": (mutate(lambda s: s.pop("devices")), "'devices' is missing or empty"),
    "empty devices": (mutate(lambda s: s.update(devices=[])), "'devices' is missing or empty"),
    "device without name": (mutate(lambda s: s["devices"][0].pop("name")), "devices[0].name is missing"),
    "device name starts badly": (mutate(lambda s: s["devices"][0].update(name="-0")), "devices[0].name '-0'"),
    "device name with space": (mutate(lambda s: s["devices"][0].update(name="gpu 0")), "devices[0].name 'gpu 0'"),
    "device name ends badly": (mutate(lambda s: s["devices"][0].update(name="0:")), "devices[0].name '0:'"),
    "duplicate device": (mutate(lambda s: s["devices"].append(copy.deepcopy(s["devices"][0]))), "defined twice"),
    "device without edits": (mutate(lambda s: s["devices"][0].pop("containerEdits")), "has no containerEdits"),
    "device node without path": (mutate(lambda s: s["containerEdits"]["deviceNodes"].append({})),
                                 "deviceNodes[1].path is required"),
    "relative device node": (mutate(lambda s: s["devices"][0]["containerEdits"]["deviceNodes"][0].update(
        path="dev/nvidia0")), "devices[0].containerEdits.deviceNodes[0].path"),
    "bad hook name": (mutate(lambda s: s["containerEdits"]["hooks"][0].update(hookName="onStart")),
                      "hookName 'onStart'"),
    "hook without path": (mutate(lambda s: s["containerEdits"]["hooks"][0].pop("path")), "hooks[0].path is required"),
    "env without =": (mutate(lambda s: s["containerEdits"]["env"].append("NVIDIA_VISIBLE_DEVICES")),
                      "env[1] must be a 'NAME=value'"),
    "mount without containerPath": (mutate(lambda s: s["containerEdits"]["mounts"][0].pop("containerPath")),
                                    "mounts[0] needs hostPath and containerPath"),
    "edits not a mapping": (mutate(lambda s: s.update(containerEdits=["x"])), "containerEdits must be a mapping"),
}


@pytest.mark.parametrize("case", sorted(BAD_SPECS))
def test_bad_spec_is_rejected_by_its_rule(case: str) -> None:
    spec, expected = BAD_SPECS[case]
    problems = cdi.validate_spec(spec, "/etc/cdi/bad.yaml")
    assert problems, case
    assert any(expected in p for p in problems), problems
    assert all(p.startswith("/etc/cdi/bad.yaml: ") for p in problems)


def test_good_spec_has_no_problems() -> None:
    assert cdi.validate_spec(good_spec()) == []


# --- duplicates across files, missing names, whole host ------------------------------------------


def test_same_device_in_two_specs_of_one_dir_is_reported() -> None:
    problems = cdi.duplicate_names([("/etc/cdi/a.yaml", good_spec()), ("/etc/cdi/b.yaml", good_spec())])
    assert len(problems) == 2  # nvidia.com/gpu=0 and =all
    assert problems[0].startswith("nvidia.com/gpu=0 is defined in 2 specs of /etc/cdi: /etc/cdi/a.yaml, /etc/cdi/b.yaml")


def test_same_device_in_two_dirs_is_allowed() -> None:
    specs = [("/etc/cdi/nvidia.yaml", good_spec()), ("/var/run/cdi/nvidia.yaml", good_spec())]
    assert cdi.check_host(specs, ["nvidia.com/gpu=0", "nvidia.com/gpu=all"], 1) == []


def test_missing_index_names_are_listed() -> None:
    missing = cdi.missing_names(["nvidia.com/gpu=0", "nvidia.com/gpu=all"], 3)
    assert missing == ["nvidia.com/gpu=1", "nvidia.com/gpu=2"]
    assert cdi.missing_names(["nvidia.com/gpu=0"], 1) == ["nvidia.com/gpu=all"]


# --- the role's filter plugin (what nvidia_cdi's validate.yml calls) ------------------------------


def load_filter() -> Any:
    path = ROOT / "plugins" / "filter" / "nvidia_cdi.py"
    spec = importlib.util.spec_from_file_location("nvidia_cdi_filter", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.FilterModule().filters()["nvidia_cdi_problems"]


def slurped(path: str, text: str) -> dict[str, str]:
    return {"source": path, "content": base64.b64encode(text.encode()).decode(), "encoding": "base64"}


def test_role_filter_accepts_a_generated_spec(ctk: Path, tmp_path: Path) -> None:
    spec, path = generate(ctk, tmp_path, 2, "--device-name-strategy", "index")
    listed = ["nvidia.com/gpu=0", "nvidia.com/gpu=1", "nvidia.com/gpu=all"]
    problems = load_filter()([slurped(str(path), path.read_text())], ["INFO[0000] Found 3 CDI devices", *listed], 2,
                             "index")
    assert problems == []


def test_role_filter_reports_missing_names_duplicates_and_broken_files() -> None:
    text = yaml.safe_dump(good_spec())
    problems = load_filter()(
        [slurped("/etc/cdi/a.yaml", text), slurped("/etc/cdi/b.yaml", text), slurped("/etc/cdi/c.yaml", "a: [")],
        ["nvidia.com/gpu=0", "nvidia.com/gpu=all"], 2, "index",
    )
    assert any("/etc/cdi/c.yaml: not valid YAML/JSON" in p for p in problems)
    assert any("nvidia.com/gpu=0 is defined in 2 specs of /etc/cdi" in p for p in problems)
    assert "nvidia-ctk cdi list does not show nvidia.com/gpu=1" in problems


def test_role_filter_takes_the_platform() -> None:
    """On WSL2 `all` is the only name nvidia-ctk writes; the filter must not ask for 0..N-1 there."""
    text = yaml.safe_dump({"cdiVersion": "0.5.0", "kind": "nvidia.com/gpu",
                           "devices": [{"name": "all", "containerEdits": {"deviceNodes": [{"path": "/dev/dxg"}]}}]})
    filt = load_filter()
    assert filt([slurped("/var/run/cdi/nvidia.yaml", text)], ["nvidia.com/gpu=all"], 2, "index", "wsl") == []
    assert "nvidia-ctk cdi list does not show nvidia.com/gpu=0" in filt(
        [slurped("/var/run/cdi/nvidia.yaml", text)], ["nvidia.com/gpu=all"], 2, "index")


def test_probe_files_are_shaped_like_slurp_results_in_path_order() -> None:
    path = ROOT / "plugins" / "filter" / "nvidia_cdi.py"
    spec = importlib.util.spec_from_file_location("nvidia_cdi_filter", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    probe_files = module.FilterModule().filters()["nvidia_cdi_probe_files"]
    text = yaml.safe_dump(good_spec())
    b64 = base64.b64encode(text.encode()).decode()
    lines = ["list-rc 0", "list nvidia.com/gpu=0", f"file {b64} /var/run/cdi/nvidia.yaml",
             "file  /etc/cdi/empty.json", f"file {b64} /etc/cdi/with space.yaml"]
    files = probe_files(lines)
    assert files == [{"item": "/etc/cdi/empty.json", "content": ""},
                     {"item": "/etc/cdi/with space.yaml", "content": b64},
                     {"item": "/var/run/cdi/nvidia.yaml", "content": b64}]
    # The same two files of one directory are found as duplicates by the role's rule.
    problems = load_filter()(files[1:2] + [{"item": "/etc/cdi/copy.yaml", "content": b64}],
                             ["nvidia.com/gpu=0", "nvidia.com/gpu=all"], 2, "index")
    assert any("is defined in 2 specs of /etc/cdi" in p for p in problems), problems
