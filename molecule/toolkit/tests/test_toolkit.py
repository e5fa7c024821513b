"""Verify of the `toolkit` scenario: hosts after converge + idempotence, plus ansible-playbook runs
of playbooks/gpu_hosts.yml against the extra hosts (check mode, missing driver, refused repos,
refused legacy packages). testinfra over podman://; the runs use the scenario's inventory.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import testinfra
import yaml

from ansible_collections.openshell_auto.cluster.plugins.module_utils import cdi

ROOT = Path(__file__).resolve().parents[3]

BASE = "nvidia-container-toolkit-base"
LEGACY = ["nvidia-container-toolkit", "libnvidia-container-tools", "libnvidia-container1"]
SPEC = "/var/run/cdi/nvidia.yaml"
ENV_FILE = "/etc/nvidia-container-toolkit/nvidia-cdi-refresh.env"
GPU_HOSTS = {"toolkit-gpu1": (1, "1.18.2-1"), "toolkit-gpu2": (2, "1.18.1-1")}
EXTRA = ["toolkit-nodriver", "toolkit-wrongkey", "toolkit-unsigned", "toolkit-legacy"]


def get(name: str) -> Any:
    return testinfra.get_host(f"podman://{name}")


def installed_version(host: Any, package: str) -> str:
    out = host.run(f"dpkg-query -W -f='${{db:Status-Status}} ${{Version}}' {package}")
    status, _, version = out.stdout.partition(" ")
    return version if out.rc == 0 and status == "installed" else ""


# --- converged GPU hosts ------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(GPU_HOSTS))
def test_pinned_version_installed_from_signed_repo(name: str) -> None:
    host = get(name)
    _, version = GPU_HOSTS[name]
    assert installed_version(host, BASE) == version
    source = host.file("/etc/apt/sources.list.d/nvidia-container-toolkit.list").content_string
    assert "deb [signed-by=/usr/share/keyrings/nvidia-container-toolkit-keyring.gpg] " \
        "http://127.0.0.1:8765/signed/stable/deb/$(ARCH) /" in source
    assert "trusted=yes" not in source
    keyring = host.file("/usr/share/keyrings/nvidia-container-toolkit-keyring.gpg")
    assert keyring.exists and keyring.mode == 0o644
    # dearmored: a binary OpenPGP packet (tag bit set), not ASCII armor
    assert keyring.content[0] & 0x80
    policy = host.run(f"apt-cache policy {BASE}").stdout
    assert "http://127.0.0.1:8765/signed/stable/deb/amd64" in policy


@pytest.mark.parametrize("name", sorted(GPU_HOSTS))
def test_pin_is_held(name: str) -> None:
    host = get(name)
    assert BASE in host.run("apt-mark showhold").stdout.split()
    # toolkit-gpu2 is pinned to the OLDER version: the repo offers 1.18.2-1, the hold keeps 1.18.1-1.
    simulated = host.run("apt-get -s -o Dir::Etc::SourceParts=- -o "
                         "Dir::Etc::SourceList=/etc/apt/sources.list.d/nvidia-container-toolkit.list upgrade")
    assert simulated.rc == 0, simulated.stderr
    assert f"Inst {BASE}" not in simulated.stdout
    if name == "toolkit-gpu2":
        assert "Candidate: 1.18.2-1" in host.run(f"apt-cache policy {BASE}").stdout
        assert BASE in simulated.stdout  # listed as kept back / held


def test_legacy_packages_removed_and_base_kept_manual() -> None:
    host = get("toolkit-gpu1")
    for package in LEGACY:
        assert installed_version(host, package) == "", package
    assert BASE not in host.run("apt-mark showauto").stdout.split()


@pytest.mark.parametrize("name", sorted(GPU_HOSTS))
def test_binaries_run(name: str) -> None:
    host = get(name)
    upstream = GPU_HOSTS[name][1].rsplit("-", 1)[0]
    assert host.run("nvidia-ctk --version").stdout.startswith(f"NVIDIA Container Toolkit CLI version {upstream}")
    assert host.run("nvidia-cdi-hook --version").rc == 0
    # A fresh GPU host has neither runc nor crun (nor do these test hosts): the runtime prints its
    # version, then exits 1 looking for one (toolkit v1.18.2, internal/oci/runtime_low_level.go),
    # which the role accepts.
    assert host.run("command -v runc || command -v crun").rc != 0
    runtime = host.run("nvidia-container-runtime --version")
    assert runtime.rc == 1
    assert runtime.stdout.startswith(f"NVIDIA Container Runtime version {upstream}\n")
    assert "no runtime binary found from candidate list: [runc crun]" in runtime.stderr


@pytest.mark.parametrize("name", sorted(GPU_HOSTS))
def test_spec_has_index_names_for_each_gpu(name: str) -> None:
    host = get(name)
    count = GPU_HOSTS[name][0]
    spec = yaml.safe_load(host.file(SPEC).content_string)
    assert cdi.validate_spec(spec, SPEC) == []
    assert spec["kind"] == "nvidia.com/gpu"
    assert [d["name"] for d in spec["devices"]] == [str(i) for i in range(count)] + ["all"]
    assert {h["path"] for h in spec["containerEdits"]["hooks"]} == {"/usr/bin/nvidia-cdi-hook"}
    listed = host.run("nvidia-ctk cdi list").stdout.split()
    assert listed == [f"nvidia.com/gpu={i}" for i in range(count)] + ["nvidia.com/gpu=all"]
    assert cdi.missing_names(listed, count) == []


def _env(host: Any) -> dict[str, str]:
    lines = host.file(ENV_FILE).content_string.splitlines()
    return dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))


@pytest.mark.parametrize("name", sorted(GPU_HOSTS))
def test_refresh_env_matches_role_options(name: str) -> None:
    host = get(name)
    assert _env(host) == {
        "NVIDIA_CTK_CDI_OUTPUT_FILE_PATH": SPEC,
        "NVIDIA_CTK_CDI_GENERATE_OUTPUT_FORMAT": "yaml",
        "NVIDIA_CTK_CDI_GENERATE_MODE": "auto",
        "NVIDIA_CTK_CDI_GENERATE_DEVICE_NAME_STRATEGIES": "index",
        "NVIDIA_CTK_DRIVER_ROOT": "/",
        "NVIDIA_CTK_DEV_ROOT": "/",
        "NVIDIA_CTK_CDI_HOOK_PATH": "/usr/bin/nvidia-cdi-hook",
    }
    assert host.service("nvidia-cdi-refresh.path").is_enabled
    assert host.service("nvidia-cdi-refresh.path").is_running
    assert host.service("nvidia-cdi-refresh.service").is_enabled


@pytest.mark.parametrize("name", sorted(GPU_HOSTS))
def test_refresh_units_installed_like_the_real_package(name: str) -> None:
    """Units in /etc/systemd/system, conffiles, what the .path unit watches and the .service's
    conditions: as NVIDIA/nvidia-container-toolkit v1.18.2 packaging/debian/*.install and
    deployments/systemd/nvidia-cdi-refresh.{path,service}."""
    host = get(name)
    listed = host.run(f"dpkg -L {BASE}").stdout.split()
    assert "/etc/systemd/system/nvidia-cdi-refresh.path" in listed
    assert "/etc/systemd/system/nvidia-cdi-refresh.service" in listed
    assert not [p for p in listed if p.startswith(("/lib/systemd/", "/usr/lib/systemd/"))]
    conffiles = host.run(f"dpkg-query -W -f='${{Conffiles}}' {BASE}").stdout
    assert "/etc/nvidia-container-toolkit/nvidia-cdi-refresh.env" in conffiles
    path_unit = host.run("systemctl cat nvidia-cdi-refresh.path").stdout
    assert "# /etc/systemd/system/nvidia-cdi-refresh.path" in path_unit
    watched = [line.split("=", 1)[1] for line in path_unit.splitlines() if line.startswith("PathChanged=")]
    assert watched == ["/lib/modules/%v/modules.dep", "/lib/modules/%v/modules.dep.bin", "/usr/bin/nvidia-ctk"]
    unit = host.run("systemctl cat nvidia-cdi-refresh.service").stdout
    assert "ExecCondition=/usr/bin/grep -qE '/(nvidia|nvidia-current)\\\\.ko' /lib/modules/%v/modules.dep" in unit
    # The package's config.toml comes from its postinst (nvidia-ctk config --in-place).
    assert "/etc/nvidia-container-runtime/config.toml" not in listed
    assert 'runtimes = ["runc", "crun"]' in host.file("/etc/nvidia-container-runtime/config.toml").content_string


DROP_IN = "/run/systemd/system/nvidia-cdi-refresh.service.d/openshell-test.conf"


def test_refresh_service_regenerates_the_same_spec() -> None:
    """The env file really drives the refresh service: delete the spec, run the unit, same spec.
    The test hosts have no nvidia-smi, so the unit's ConditionPathExists=|/usr/bin/nvidia-smi
    skips it (as upstream would): first that, then with a runtime drop-in that replaces the
    nvidia-smi conditions by the test driver file (the ExecCondition on nvidia.ko still applies)."""
    host = get("toolkit-gpu2")
    before = host.file(SPEC).content_string
    assert host.run(f"rm {SPEC} && systemctl start nvidia-cdi-refresh.service").rc == 0
    assert not host.file(SPEC).exists  # skipped: no nvidia-smi
    assert "ConditionResult=no" in host.run("systemctl show -p ConditionResult nvidia-cdi-refresh.service").stdout
    try:
        assert host.run(f"mkdir -p {DROP_IN.rsplit('/', 1)[0]} && printf '[Unit]\\nConditionPathExists=\\n"
                        f"ConditionPathExists=/usr/bin/nvidia-ctk\\n"
                        f"ConditionPathExists=/etc/openshell-test/nvidia-driver-version\\n' > {DROP_IN} "
                        "&& systemctl daemon-reload && systemctl start nvidia-cdi-refresh.service").rc == 0
        assert host.file(SPEC).content_string == before
    finally:
        host.run(f"rm -f {DROP_IN} && systemctl daemon-reload")


def test_non_gpu_host_untouched() -> None:
    host = get("toolkit-plain")
    for path in ["/etc/apt/sources.list.d/nvidia-container-toolkit.list",
                 "/usr/share/keyrings/nvidia-container-toolkit-keyring.gpg", "/var/run/cdi",
                 "/etc/nvidia-container-toolkit", "/var/lib/openshell-auto", "/srv/openshell-test-repo",
                 "/etc/openshell-test", "/dev/nvidia0"]:
        assert not host.file(path).exists, path
    assert installed_version(host, BASE) == ""
    assert not host.service("openshell-test-repo").is_running


# --- the collection the converge ran ------------------------------------------------------------


def test_converge_ran_the_collection_installed_from_the_tarball() -> None:
    """molecule.yml puts prepare.yml's install first on ANSIBLE_COLLECTIONS_PATH and no roles on the
    roles path; ansible-playbook resolves openshell_auto.cluster.gpu_hosts (converge.yml's import)
    to that installed copy, which holds the tarball's MANIFEST.json and is not the checkout."""
    collections = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "collections"
    installed = collections / "ansible_collections" / "openshell_auto" / "cluster"
    assert os.environ["ANSIBLE_COLLECTIONS_PATH"] == str(collections)
    manifest = json.loads((installed / "MANIFEST.json").read_text())["collection_info"]
    galaxy = yaml.safe_load((ROOT / "galaxy.yml").read_text())
    assert (manifest["namespace"], manifest["name"], manifest["version"]) == ("openshell_auto", "cluster",
                                                                               galaxy["version"])
    assert not installed.resolve().is_relative_to(ROOT.resolve())
    assert not (installed / "tests").exists() and not (installed / "molecule").exists()  # build_ignore'd
    run = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "--syntax-check",
                          "-i", str(Path(os.environ["MOLECULE_INVENTORY_FILE"]).parent),
                          "openshell_auto.cluster.gpu_hosts"],
                         env=dict(os.environ), capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 0, run.stdout + run.stderr
    assert f"playbook: {installed}/playbooks/gpu_hosts.yml" in run.stdout, run.stdout
    listed = subprocess.run([str(Path(sys.executable).parent / "ansible-galaxy"), "collection", "list",
                             "openshell_auto.cluster", "--format", "json"],
                            env=dict(os.environ), capture_output=True, text=True, timeout=120, check=True)
    found = json.loads(listed.stdout)  # every copy on the search path, sorted by path, not by precedence
    assert str(collections / "ansible_collections") in found, found
    assert found[str(collections / "ansible_collections")]["openshell_auto.cluster"]["version"] == galaxy["version"]


# --- extra ansible-playbook runs ----------------------------------------------------------------


def _playbook(args: list[str]) -> subprocess.Popen[str]:
    inventory = Path(os.environ["MOLECULE_INVENTORY_FILE"]).parent
    env = dict(os.environ)
    env.update({
        "ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json",
        "ANSIBLE_LOAD_CALLBACK_PLUGINS": "1",
        "MOLECULE_PROJECT_DIRECTORY": str(ROOT),
    })
    cfg = Path(os.environ.get("MOLECULE_EPHEMERAL_DIRECTORY", "")) / "ansible.cfg"
    if cfg.is_file():
        env["ANSIBLE_CONFIG"] = str(cfg)
    command = [str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(inventory),
               "openshell_auto.cluster.gpu_hosts", "-e", "toolkit_extra_gpu=true", *args]
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


class Run:
    def __init__(self, proc: subprocess.Popen[str]) -> None:
        out, err = proc.communicate(timeout=480)
        self.rc = proc.returncode
        try:
            self.data = json.loads(out[out.index("{"):])
        except ValueError as exc:
            raise AssertionError(f"no JSON from ansible-playbook (rc {self.rc}): {err}\n{out[-3000:]}") from exc

    def stats(self, host: str) -> dict[str, int]:
        return self.data["stats"][host]

    def failures(self, host: str) -> list[str]:
        found = []
        for play in self.data["plays"]:
            for task in play["tasks"]:
                result = task["hosts"].get(host)
                if result and result.get("failed"):
                    found.append(f"{task['task']['name']}: {result.get('msg', '')}")
        return found

    def skipped_tasks(self, host: str) -> list[str]:
        return [task["task"]["name"] for play in self.data["plays"] for task in play["tasks"]
                if (task["hosts"].get(host) or {}).get("skipped")]

    def changed_tasks(self, host: str) -> list[str]:
        return [task["task"]["name"] for play in self.data["plays"] for task in play["tasks"]
                if (task["hosts"].get(host) or {}).get("changed")]


DUPLICATE = "/var/run/cdi/nvidia-copy.yaml"
ENABLE_UNITS = "Enable the refresh units (disable them when nvidia_cdi_refresh_enabled is false)"
GENERATE = "Generate the CDI spec where it is missing or out of date"  # directories, spec, fingerprint: one step


def _steps(tasks: list[str]) -> set[str]:
    """Task names without the `collection.role : ` prefix the json callback gives them."""
    return {task.split(" : ", 1)[-1] for task in tasks}


@pytest.fixture(scope="module")
def runs() -> dict[str, Run]:
    # Both runs at once: the check-mode run (a fresh host, and toolkit-gpu2 with a second spec
    # defining the same devices in the same directory) and the run with failing hosts.
    gpu2 = get("toolkit-gpu2")
    assert gpu2.run(f"cp {SPEC} {DUPLICATE}").rc == 0
    try:
        check = _playbook(["--check", "--limit", "toolkit-fresh,toolkit-gpu2"])
        failing = _playbook(["--limit", ",".join(["toolkit-gpu1", *EXTRA])])
        return {"check": Run(check), "failing": Run(failing)}
    finally:
        gpu2.run(f"rm -f {DUPLICATE}")


def test_check_mode_on_fresh_host_reports_changes_and_changes_nothing(runs: dict[str, Run]) -> None:
    run = runs["check"]
    assert run.failures("toolkit-fresh") == []
    assert run.stats("toolkit-fresh")["failures"] == 0
    changed = run.changed_tasks("toolkit-fresh")
    assert any("Write the apt source" in t for t in changed), changed
    assert any("would install" in t.lower() or "Report the install" in t for t in changed), changed
    host = get("toolkit-fresh")
    assert installed_version(host, BASE) == ""
    assert not host.file("/etc/apt/sources.list.d/nvidia-container-toolkit.list").exists
    assert not host.file(SPEC).exists
    assert not host.file(ENV_FILE).exists


def test_validation_fails_on_names_defined_twice_in_one_dir(runs: dict[str, Run]) -> None:
    """nvidia_cdi's validation (it runs in check mode too when nothing needs regenerating)."""
    assert runs["check"].rc == 2
    failures = " ".join(runs["check"].failures("toolkit-gpu2"))
    assert "the CDI devices for 2 GPU(s) are not right" in failures, failures
    for name in ["nvidia.com/gpu=0", "nvidia.com/gpu=1", "nvidia.com/gpu=all"]:
        assert f"{name} is defined in 2 specs of /var/run/cdi" in failures, name
    assert DUPLICATE in failures


def test_missing_driver_fails_that_host_only(runs: dict[str, Run]) -> None:
    run = runs["failing"]
    assert run.rc == 2
    failures = " ".join(run.failures("toolkit-nodriver"))
    assert "NVIDIA driver not found" in failures
    assert "/etc/openshell-test/nvidia-driver-version" in failures
    assert "install the NVIDIA driver" in failures
    good = run.stats("toolkit-gpu1")
    assert good["failures"] == 0 and good["unreachable"] == 0
    assert good["changed"] == 0, run.changed_tasks("toolkit-gpu1")
    assert good["ok"] > 20


@pytest.mark.parametrize("name", ["toolkit-wrongkey", "toolkit-unsigned"])
def test_badly_signed_repo_refused(runs: dict[str, Run], name: str) -> None:
    failures = " ".join(runs["failing"].failures(name))
    assert "apt refused the NVIDIA container toolkit repository" in failures, failures
    assert ("NO_PUBKEY" in failures) or ("is not signed" in failures), failures
    host = get(name)
    assert installed_version(host, BASE) == ""
    assert not host.file(SPEC).exists


def test_legacy_packages_refused_by_default(runs: dict[str, Run]) -> None:
    failures = " ".join(runs["failing"].failures("toolkit-legacy"))
    for package in LEGACY:
        assert package in failures
    assert "nvidia_container_toolkit_legacy_action=remove" in failures
    host = get("toolkit-legacy")
    for package in LEGACY:
        assert installed_version(host, package) == "1.18.1-1"
    assert installed_version(host, BASE) == "1.18.1-1"


REPOSITORY = "Configure the repository and install the pinned package (apt or dnf)"
APT_SOURCE = "/etc/apt/sources.list.d/nvidia-container-toolkit.list"
KEYRING = "/usr/share/keyrings/nvidia-container-toolkit-keyring.gpg"


def test_a_repository_in_place_is_one_skipped_step_and_an_edited_one_is_put_back() -> None:
    """installed.yml's probe reads the key, keyring and apt source with the package state: a host as
    apt.yml leaves it skips apt.yml in one step; an edited source and a removed keyring run it again,
    and it puts both back."""
    host = get("toolkit-gpu1")
    run = Run(_playbook(["--limit", "toolkit-gpu1"]))
    assert run.rc == 0 and run.stats("toolkit-gpu1")["changed"] == 0, run.changed_tasks("toolkit-gpu1")
    assert REPOSITORY in _steps(run.skipped_tasks("toolkit-gpu1"))
    before = host.file(APT_SOURCE).content_string
    assert host.run(f"echo 'deb http://example.invalid/ /' >> {APT_SOURCE} && rm {KEYRING}").rc == 0
    run = Run(_playbook(["--limit", "toolkit-gpu1"]))
    assert run.rc == 0, run.failures("toolkit-gpu1")
    assert {"Write the apt source", "Dearmor the key into the keyring"} <= _steps(run.changed_tasks("toolkit-gpu1"))
    assert host.file(APT_SOURCE).content_string == before
    assert host.file(KEYRING).exists


def test_refresh_disabled_undoes_what_the_postinst_enabled() -> None:
    """The package's postinst runs `systemctl enable --now` on both units; with
    nvidia_cdi_refresh_enabled=false the role disables them and stops the .path unit. Runs last
    (the module's other tests expect them enabled)."""
    run = Run(_playbook(["--limit", "toolkit-gpu1", "-e", "nvidia_cdi_refresh_enabled=false"]))
    assert run.rc == 0, run.failures("toolkit-gpu1")
    host = get("toolkit-gpu1")
    assert not host.service("nvidia-cdi-refresh.path").is_enabled
    assert not host.service("nvidia-cdi-refresh.path").is_running
    assert not host.service("nvidia-cdi-refresh.service").is_enabled
    # Back on: the role's probe sees both units off, so the enable step runs for each of them.
    run = Run(_playbook(["--limit", "toolkit-gpu1"]))
    assert run.rc == 0, run.failures("toolkit-gpu1")
    assert ENABLE_UNITS in _steps(run.changed_tasks("toolkit-gpu1"))
    assert host.service("nvidia-cdi-refresh.path").is_enabled
    assert host.service("nvidia-cdi-refresh.path").is_running
    assert host.service("nvidia-cdi-refresh.service").is_enabled
    # The probe skips only what is exactly as the step leaves it: the .path unit stopped by hand
    # (still enabled) is started again; a state directory of another mode is set back to 0755.
    assert host.run("systemctl stop nvidia-cdi-refresh.path && chmod 0700 /var/lib/openshell-auto").rc == 0
    run = Run(_playbook(["--limit", "toolkit-gpu1"]))
    assert run.rc == 0, run.failures("toolkit-gpu1")
    assert {ENABLE_UNITS, "Create the spec and state directories"} <= _steps(run.changed_tasks("toolkit-gpu1"))
    assert host.service("nvidia-cdi-refresh.path").is_running
    assert host.file("/var/lib/openshell-auto").mode == 0o755
    # Everything in place: nothing changes, and neither step reaches the host (skipped).
    run = Run(_playbook(["--limit", "toolkit-gpu1"]))
    assert run.rc == 0 and run.stats("toolkit-gpu1")["changed"] == 0, run.changed_tasks("toolkit-gpu1")
    assert {ENABLE_UNITS, GENERATE} <= _steps(run.skipped_tasks("toolkit-gpu1"))
