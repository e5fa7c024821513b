"""The collection as a user gets it: `ansible-galaxy collection build`, the tarball installed with
`ansible-galaxy collection install` into a fresh virtual environment that holds only ansible-core
(from PyPI, in the range meta/runtime.yml declares), playbooks run there by FQCN, and ansible-lint
(production profile) clean on the installed copy. Nothing from the checkout is on that
interpreter's path: the filters' module_utils imports are proven outside it."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
import tarfile
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
NODES = REPO / "tests" / "data" / "nodes" / "gpu-on-one-of-three.json"
CORE = yaml.safe_load((REPO / "meta" / "runtime.yml").read_text())["requires_ansible"]


@dataclass(frozen=True)
class Installed:
    tarball: Path
    venv_bin: Path
    collections: Path  # the directory holding ansible_collections/openshell_auto/cluster

    @property
    def root(self) -> Path:
        return self.collections / "ansible_collections" / "openshell_auto" / "cluster"

    def env(self, cwd: Path) -> dict[str, str]:
        """Only the fresh venv: no checkout on PYTHONPATH, no checkout ansible.cfg."""
        config = cwd / "ansible.cfg"
        config.write_text("[defaults]\nstdout_callback = default\nnocows = True\n")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("ANSIBLE_", "PYTHON", "VIRTUAL_ENV"))}
        return {**env, "PATH": f"{self.venv_bin}{os.pathsep}{env.get('PATH', '')}", "ANSIBLE_CONFIG": str(config),
                "ANSIBLE_COLLECTIONS_PATH": str(self.collections), "ANSIBLE_NOCOLOR": "1"}


@pytest.fixture(scope="session")
def core_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv holding only ansible-core, made once for the session (shared by xdist workers)."""
    shared = tmp_path_factory.getbasetemp().parent
    venv = shared / "ansible-core-venv"
    with open(shared / "ansible-core-venv.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (venv / "ready").exists():
            shutil.rmtree(venv, ignore_errors=True)
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
            subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", f"ansible-core{CORE}"],
                           check=True, timeout=600, capture_output=True)
            (venv / "ready").touch()
    return venv / "bin"


@pytest.fixture(scope="module")
def installed(core_venv: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    out = tmp_path_factory.mktemp("collection")
    env = {**os.environ, "PATH": f"{core_venv}{os.pathsep}{os.environ['PATH']}"}
    env.pop("ANSIBLE_CONFIG", None)
    subprocess.run([str(core_venv / "ansible-galaxy"), "collection", "build", "--output-path", str(out / "dist"),
                    str(REPO)], check=True, timeout=300, capture_output=True, env=env, cwd=out)
    (tarball,) = (out / "dist").glob("openshell_auto-cluster-*.tar.gz")
    # --force: a copy elsewhere on the default collections path (~/.ansible/collections) would make
    # ansible-galaxy skip the install as "already installed"
    subprocess.run([str(core_venv / "ansible-galaxy"), "collection", "install", "--force",
                    "-p", str(out / "collections"), str(tarball)], check=True, timeout=300, capture_output=True, env=env, cwd=out)
    yield Installed(tarball, core_venv, out / "collections")


def test_the_tarball_holds_the_collection_and_nothing_of_the_checkout(installed: Installed) -> None:
    with tarfile.open(installed.tarball) as archive:
        names = set(archive.getnames())
    version = yaml.safe_load((REPO / "galaxy.yml").read_text())["version"]
    manifest = json.loads((installed.root / "MANIFEST.json").read_text())["collection_info"]
    assert (manifest["namespace"], manifest["name"], manifest["version"]) == ("openshell_auto", "cluster", version)
    for required in ("meta/runtime.yml", "playbooks/site.yml", "plugins/filter/nvidia_cdi.py",
                     "plugins/module_utils/cdi.py", "roles/k3s/meta/argument_specs.yml",
                     "inventories/example/hosts.yml"):
        assert required in names, required
    for top in ("tests", "molecule", "bench", "scripts", "openshell_auto", "ansible_collections", ".venv", ".ci",
                "pyproject.toml", "ansible.cfg"):
        assert not any(n == top or n.startswith(top + "/") for n in names), top
    assert not any("__pycache__" in n or "/filter_plugins/" in n for n in names)


def test_every_playbook_passes_syntax_check_by_fqcn(installed: Installed, tmp_path: Path) -> None:
    for playbook in sorted((REPO / "playbooks").glob("*.yml")):
        run = subprocess.run(["ansible-playbook", f"openshell_auto.cluster.{playbook.stem}", "--syntax-check",
                              "-i", "localhost,"], env=installed.env(tmp_path), cwd=tmp_path,
                             capture_output=True, text=True, timeout=300, check=False)
        assert run.returncode == 0, run.stdout + run.stderr
        # ansible-playbook names the file it resolved: the installed copy, not the checkout
        assert f"playbook: {installed.root}/playbooks/{playbook.name}" in run.stdout, run.stdout


USER_PLAYBOOK = """\
- name: The collection's classification, imported by FQCN
  ansible.builtin.import_playbook: openshell_auto.cluster.classify

- name: The collection's filters (module_utils behind them) on the controller
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Call filters that import sandbox, readiness, doctor, verify and cdi
      ansible.builtin.copy:
        dest: "{{ result_file }}"
        mode: "0600"
        content: >-
          {{ {'render': ([{'name': 'box', 'image': 'busybox:1', 'gpus': 1}]
                                | openshell_auto.cluster.openshell_sandbox_render).gpu_names,
                     'ready': (lookup('ansible.builtin.file', nodes) | openshell_auto.cluster.openshell_gpu_readiness).ready,
                     'doctor': ({} | openshell_auto.cluster.openshell_doctor_verdict).report,
                     'verify': ({} | openshell_auto.cluster.openshell_verify_verdict).table,
                     'cdi': ([] | openshell_auto.cluster.nvidia_cdi_problems([], 1, 'index'))} | to_json }}
"""


def _inventory(tmp_path: Path, address: str, python: Path) -> Path:
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(textwrap.dedent(f"""\
        all:
          children:
            openshell_servers:
              hosts:
                localhost:
                  ansible_connection: local
                  ansible_host: {address}
                  ansible_python_interpreter: {python}
        """))
    return inventory


def _run_user_playbook(installed: Installed, tmp_path: Path, address: str) -> subprocess.CompletedProcess[str]:
    playbook = tmp_path / "mine.yml"
    playbook.write_text(USER_PLAYBOOK)
    return subprocess.run(["ansible-playbook", "-i", str(_inventory(tmp_path, address, installed.venv_bin / "python")), str(playbook),
                           "-e", f"nodes={NODES}", "-e", f"result_file={tmp_path / 'result.json'}"], env=installed.env(tmp_path), cwd=tmp_path,
                          capture_output=True, text=True, timeout=300, check=False)


def test_a_user_playbook_runs_the_installed_collection(installed: Installed, tmp_path: Path) -> None:
    run = _run_user_playbook(installed, tmp_path, "127.0.0.1")
    out = run.stdout + run.stderr
    assert run.returncode == 0, out
    assert "TASK [openshell_auto.cluster.openshell : Check the inventory layout and this host's name, address and node name]" in out, out
    result = json.loads((tmp_path / "result.json").read_text())
    assert result == {"render": ["default/box"], "ready": True, "doctor": "no material gathered",
                      "verify": "no material gathered",
                      "cdi": ["nvidia-ctk cdi list does not show nvidia.com/gpu=0",
                              "nvidia-ctk cdi list does not show nvidia.com/gpu=all"]}, result


def test_the_installed_filters_refuse_a_hostile_address(installed: Installed, tmp_path: Path) -> None:
    """The openshell role's host check (filter openshell_host_problems, module_utils/hostile.py)
    runs from the installed copy and stops the play."""
    run = _run_user_playbook(installed, tmp_path, "-oProxyCommand=touch /tmp/x")
    out = run.stdout + run.stderr
    assert run.returncode != 0, out
    assert "field ansible_host:" in out, out
    assert not (tmp_path / "result.json").exists()


def test_ansible_lint_production_is_clean_on_the_installed_collection(installed: Installed, tmp_path: Path) -> None:
    lint = Path(sys.executable).with_name("ansible-lint")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env |= {"ANSIBLE_COLLECTIONS_PATH": str(installed.collections), "NO_COLOR": "1", "HOME": str(tmp_path)}
    run = subprocess.run([str(lint), "--offline", "--profile", "production"], cwd=installed.root, env=env,
                         capture_output=True, text=True, timeout=900, check=False)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Profile 'production' was required, and it passed" in run.stdout + run.stderr
