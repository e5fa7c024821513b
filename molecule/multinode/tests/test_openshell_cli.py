"""multinode: sandboxes applied by gpu_sandbox, and the openshell-auto verify / doctor CLI run from
the controller against the test hosts (k3s = tests/doubles/k3s/k3s, fake GPUs; the double imitates
scheduling and CDI injection of pods, it runs no containers).

Valid in both verify states of the scenario: after converge/idempotence and after side_effect
(reset + re-provision + sandboxes.yml again). OPENSHELL_MN_KEEP=DIR keeps the CLI outputs
(DIR/<n>-verify, DIR/<n>-doctor) for the sample output in docs/examples.md."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "shared"))
from molecule_hosts import cli_inventory, podman_hosts  # noqa: E402

testinfra_hosts = podman_hosts()

REPO = Path(__file__).resolve().parents[3]
SERVER = "mn-server"
HOSTS = {"mn-server", "mn-gpu1", "mn-gpu2"}
DRIVER_FILE = "openshell_doctor_driver_version_file=/etc/openshell-test/nvidia-driver-version"


def _cli(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    inventory = str(cli_inventory(tmp / "inventory"))
    env = {**os.environ, "OPENSHELL_AUTO_RUNS_DIR": str(tmp / "runs")}
    return subprocess.run([sys.executable, "-m", "openshell_auto", *args[:1], "-i", inventory, "-e", DRIVER_FILE,
                           *args[1:]], cwd=REPO, env=env, capture_output=True, text=True, timeout=600, check=False)


def _keep(src: Path, what: str) -> None:
    keep = os.environ.get("OPENSHELL_MN_KEEP")
    if keep:
        stamp = time.strftime("%H%M%S")
        shutil.copytree(src, Path(keep) / f"{stamp}-{what}", dirs_exist_ok=True)


@pytest.fixture(scope="module")
def verify_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], dict, Path]:
    tmp = tmp_path_factory.mktemp("verify")
    out = tmp / "out"
    run = _cli(tmp, "verify", "--json", "-o", str(out))
    (out / "stdout.json").write_text(run.stdout)
    _keep(out, "verify")
    return run, json.loads(run.stdout or "{}"), out


@pytest.fixture(scope="module")
def doctor_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], dict, Path]:
    tmp = tmp_path_factory.mktemp("doctor")
    out = tmp / "bundle"
    run = _cli(tmp, "doctor", "--json", "-o", str(out))
    _keep(out, "doctor")
    return run, json.loads(run.stdout or "{}"), out


def _on_server(host) -> None:
    if host.backend.get_hostname() != SERVER:
        pytest.skip("cluster queries and controller-side CLI runs: once, on the server")


def test_sandboxes_applied_from_inventory(host):
    _on_server(host)
    pods = {p["metadata"]["name"]: p for p in json.loads(host.check_output("k3s kubectl get pod -o json"))["items"]}
    assert {"mn-gpu-box", "mn-cpu-box"} <= set(pods)
    gpu, cpu = pods["mn-gpu-box"], pods["mn-cpu-box"]
    assert gpu["spec"]["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert "runtimeClassName" not in gpu["spec"]
    assert gpu["metadata"]["labels"]["openshell.ai/managed-by"] == "openshell"
    assert "nvidia.com/gpu" not in (cpu["spec"]["containers"][0].get("resources") or {}).get("limits", {})
    # the double's scheduler bound the GPU sandbox to a GPU agent, which has the CDI device names
    assert gpu["spec"]["nodeName"] in {"mn-gpu1", "mn-gpu2"}
    assert gpu["status"]["phase"] == "Running"
    assert "mn-refused-box" not in pods  # refused in side_effect while the plugin was off


def test_verify_cli_every_check_passes(host, verify_run):
    _on_server(host)
    run, data, _ = verify_run
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert data["passed"] is True and data["run_problems"] == []
    failed = [c for c in data["checks"] if not c["ok"]]
    assert failed == []
    by_key = {(c["host"], c["check"]): c for c in data["checks"]}
    for gpu_host in ("mn-gpu1", "mn-gpu2"):
        for check in ("driver", "toolkit", "cdi-names", "refresh-units", "containerd-nvidia"):
            assert (gpu_host, check) in by_key
        assert (f"node/{gpu_host}", "allocatable-gpus") in by_key
    assert ("cluster", "device-plugin") in by_key
    assert by_key[("cluster", "smoke-pod")]["ok"] is True


def test_verify_smoke_pod_ran_and_was_deleted(host, verify_run):
    _on_server(host)
    run, _, out = verify_run
    assert run.returncode == 0
    smoke = json.loads((out / "smoke.json").read_text())
    assert smoke["ran"] is True and smoke["phase"] == "Succeeded"
    assert "runtimeClassName" not in smoke["manifest"]["spec"]
    lines = smoke["logs"]["stdout"].splitlines()
    assert lines and lines[0].startswith("GPU 0: ") and "(UUID: GPU-" in lines[0]
    assert smoke["delete"]["rc"] == 0
    names = [p["metadata"]["name"] for p in json.loads(host.check_output("k3s kubectl get pods -A -o json"))["items"]]
    assert "openshell-gpu-smoke" not in names


def test_doctor_cli_no_errors_one_file_per_host(host, doctor_run):
    _on_server(host)
    run, data, bundle = doctor_run
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert data["run_problems"] == []
    errors = [f for f in data["findings"] if f["severity"] == "error"]
    assert errors == []
    assert data["findings"], "doctor reported nothing"
    # the plugin (cdi-cri) wrote its own CDI spec on each GPU host: no cdi-plugin-spec warning
    assert [f for f in data["findings"] if f["check"] == "cdi-plugin-spec"] == []
    assert {p.stem for p in (bundle / "hosts").glob("*.json")} == HOSTS
    assert (bundle / "report.txt").read_text().strip()
