"""Proxies and registries.yaml for k3s: the rules (plugins/module_utils/k3s_network.py) the CLI and the role
share, the role's tasks (roles/k3s/tasks/registry_access.yml and settings.yml) run on localhost
against files under tmp_path, `render`, and the places secrets must never reach (the run's output,
the doctor's bundle)."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from helpers import ANSIBLE_PLAYBOOK, REPO, ROLE_TEST_ENV, ansible_env, recap
from ansible_collections.openshell_auto.cluster.plugins.module_utils import gather, k3s_network

Run = subprocess.CompletedProcess[str]

PASSWORD = "reg-pass-5c1e"
PROXY_PASSWORD = "proxy-pass-77ab"


# --------------------------------------------------------------------------- rules
@pytest.mark.parametrize("value", ["", "http://proxy.example.com:3128", "https://user:p%40ss@proxy:8443/",
                                   "socks5://10.0.0.1:1080"])
def test_proxy_urls_accepted(value: str) -> None:
    assert k3s_network.proxy_url_problem(value) is None


@pytest.mark.parametrize("value,problem", [
    ("http://proxy:3128\nNO_PROXY=*", "cannot take"),
    ("http://proxy:3128 -x", "cannot take"),
    ('http://proxy:3128"', "cannot take"),
    ("http://proxy:3128$HOME", "cannot take"),
    ("proxy.example.com:3128", "is not a proxy URL"),
    ("ftp://proxy.example.com", "is not a proxy URL"),
    ("http://proxy:99999", "is not a proxy URL"),
    ("http://proxy:3128/path", "is not a proxy URL"),
])
def test_proxy_urls_refused(value: str, problem: str) -> None:
    message = k3s_network.proxy_url_problem(value)
    assert message is not None and problem in message


def test_a_refused_proxy_url_never_shows_its_password() -> None:
    message = k3s_network.proxy_url_problem(f"http://user:{PROXY_PASSWORD} x@proxy:3128")
    assert message is not None and PROXY_PASSWORD not in message and "user:***@" in message
    long = "http://user:" + "p" * 80 + "@proxy:3128\n"
    assert "ppp" not in (k3s_network.proxy_url_problem(long) or "ppp")


@pytest.mark.parametrize("entries,ok", [
    ([".corp.example", "10.0.0.0/8", "fd00::/8", "registry.local", "*"], True),
    (["a,b"], False), (["a b"], False), (["a\nb"], False), ("a,b", False), ([1], False)])
def test_no_proxy_entries(entries: object, ok: bool) -> None:
    assert (k3s_network.no_proxy_problem(entries) is None) is ok


def test_registries_accepts_k3s_documented_shape() -> None:
    # docs.k3s.io "Private Registry Configuration": mirrors (endpoint, rewrite), configs (auth, tls); `*`
    # matches every registry (rancher/wharfie pkg/registries/registries.go getEndpointForHost).
    assert k3s_network.registries_problems({
        "mirrors": {"docker.io": {"endpoint": ["https://mirror.example.internal:5000"],
                                  "rewrite": {"^rancher/(.*)": "mirrorproject/rancher-images/$1"}},
                    "*": {"endpoint": ["https://mirror.example.internal:5000/v2"]}},
        "configs": {"mirror.example.internal:5000": {
            "auth": {"username": "puller", "password": PASSWORD},
            "tls": {"ca_file": "/etc/ssl/mirror-ca.pem", "cert_file": "/etc/ssl/c.pem", "key_file": "/etc/ssl/k.pem",
                    "insecure_skip_verify": False}}}}) == []


def test_registries_problems_never_echo_credentials() -> None:
    problems = k3s_network.registries_problems({"configs": {"m:5000": {"auth": {"username": "u", "password": 12345,
                                                                                "token": PASSWORD}}}})
    assert problems and not any(PASSWORD in p or "12345" in p for p in problems)


# --------------------------------------------------------------------------- the role's tasks on localhost
PLAYBOOK = """
- hosts: openshell_role_server
  gather_facts: false
  vars_files: [{defaults}, {role_vars}]
  handlers:
    # Stands in for the role's restart handler (which would restart this machine's k3s): counts restarts.
    - name: Count a restart
      ansible.builtin.shell: echo restart >> {restarts}
      listen: restart k3s
      changed_when: true
  tasks:
    - name: Write the proxy environment and registries.yaml
      ansible.builtin.import_tasks: {tasks}
"""


def converge(run_play: Callable[..., Run], tmp_path: Path, *flags: str, **variables: object) -> Run:
    role = REPO / "roles" / "k3s"
    playbook = PLAYBOOK.format(
        defaults=role / "defaults/main.yml", role_vars=role / "vars/main.yml", restarts=tmp_path / "restarts",
        tasks=role / "tasks/registry_access.yml")
    inventory = yaml.safe_dump({"all": {"children": {
        "openshell_role_server": {"hosts": {"localhost": {"ansible_connection": "local", "ansible_host": "10.0.0.10",
                                                          "ansible_python_interpreter": sys.executable}}},
        "openshell_role_agent": {"hosts": {"gpu1": {"ansible_host": "10.0.0.21"}}}}}})
    (tmp_path / "etc").mkdir(exist_ok=True)
    if not (tmp_path / "templates").exists():  # the play sits beside the role's templates, as the role finds them
        (tmp_path / "templates").symlink_to(role / "templates")
    base = {"k3s_config_dir": str(tmp_path / "etc"), "__k3s_env_file": str(tmp_path / "default-k3s"),
            "openshell_first_server": "localhost", "k3s_api_endpoint": "api.example.internal"}
    return run_play(inventory, playbook, *flags, extra_vars={**base, **variables}, env=ROLE_TEST_ENV, timeout=300)


def restarts(tmp_path: Path) -> int:
    path = tmp_path / "restarts"
    return len(path.read_text().splitlines()) if path.exists() else 0


REGISTRIES = {"mirrors": {"docker.io": {"endpoint": ["https://mirror.example.internal:5000"]}},
              "configs": {"mirror.example.internal:5000": {"auth": {"username": "puller", "password": PASSWORD}}}}


def test_proxy_and_registries_written_0600_idempotent_restart_on_change_removed_when_unset(run_play: Callable[..., Run], tmp_path: Path) -> None:
    proxy = f"http://user:{PROXY_PASSWORD}@proxy.example.com:3128"
    first = converge(run_play, tmp_path, "--diff", "-v", k3s_https_proxy=proxy, k3s_no_proxy=[".corp.example"],
                     k3s_registries=REGISTRIES)
    assert first.returncode == 0, first.stdout + first.stderr
    assert PASSWORD not in first.stdout + first.stderr and PROXY_PASSWORD not in first.stdout + first.stderr
    env_file, registries = tmp_path / "default-k3s", tmp_path / "etc" / "registries.yaml"
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600 and stat.S_IMODE(registries.stat().st_mode) == 0o600
    lines = [line for line in env_file.read_text().splitlines() if not line.startswith("#")]
    assert lines[0] == f"HTTPS_PROXY={proxy}" and len(lines) == 2 and not any("HTTP_PROXY=" in x for x in lines)
    no_proxy = lines[1].removeprefix("NO_PROXY=").split(",")
    assert no_proxy == ["localhost", "127.0.0.1", "::1", "10.42.0.0/16", "10.43.0.0/16", ".svc", ".cluster.local",
                        "10.0.0.10", "10.0.0.21", "api.example.internal", "gpu1", ".corp.example"]
    assert yaml.safe_load(registries.read_text()) == REGISTRIES  # as k3s parses it
    assert restarts(tmp_path) == 1

    again = converge(run_play, tmp_path, k3s_https_proxy=proxy, k3s_no_proxy=[".corp.example"], k3s_registries=REGISTRIES)
    assert recap(again, "localhost")["changed"] == 0 and restarts(tmp_path) == 1

    changed = converge(run_play, tmp_path, k3s_https_proxy=proxy, k3s_registries=REGISTRIES,
                       k3s_extra_config={"cluster-cidr": "10.1.0.0/16,fd00:1::/56"})
    assert changed.returncode == 0 and restarts(tmp_path) == 2
    assert "10.1.0.0/16,fd00:1::/56,10.43.0.0/16" in env_file.read_text()

    unset = converge(run_play, tmp_path)
    assert unset.returncode == 0 and not env_file.exists() and not registries.exists() and restarts(tmp_path) == 3
    assert recap(converge(run_play, tmp_path), "localhost")["changed"] == 0 and restarts(tmp_path) == 3


def test_a_vaulted_password_is_written_decrypted(run_play: Callable[..., Run], tmp_path: Path) -> None:
    vault = Path(ANSIBLE_PLAYBOOK).with_name("ansible-vault")
    (tmp_path / "vault-pass").write_text("test-vault-password\n")
    encrypted = subprocess.run([str(vault), "encrypt_string", "--vault-password-file", str(tmp_path / "vault-pass"),
                                PASSWORD, "--name", "password"], capture_output=True, text=True, timeout=60,
                               check=True, env=ansible_env()).stdout
    body = "\n".join("          " + line.strip() for line in encrypted.splitlines()[1:] if line.strip())
    (tmp_path / "vault-vars.yml").write_text('k3s_registries:\n  configs:\n    "mirror.example.internal:5000":\n'
                                             f"      auth:\n        username: puller\n        password: !vault |\n{body}\n")
    result = converge(run_play, tmp_path, "--vault-password-file", str(tmp_path / "vault-pass"), "-e",
                      f"@{tmp_path / 'vault-vars.yml'}")
    assert result.returncode == 0, result.stdout + result.stderr
    written = yaml.safe_load((tmp_path / "etc" / "registries.yaml").read_text())
    assert written == {"configs": {"mirror.example.internal:5000": {"auth": {"username": "puller",
                                                                             "password": PASSWORD}}}}


def test_credentials_stay_out_of_the_runner_artifacts(run_play: Callable[..., Run], tmp_path: Path) -> None:
    """The CLI's runner (openshell_auto/runner.py) keeps every event of a run in its artifacts: the
    written files' contents, their diff and the values behind them must not be among them."""
    from openshell_auto.runner import run_playbook

    converge(run_play, tmp_path)  # writes the play, inventory and the templates link; nothing set yet
    variables = json.loads((tmp_path / "vars.json").read_text())
    variables.update(k3s_https_proxy=f"http://user:{PROXY_PASSWORD}@proxy.example.com:3128", k3s_registries=REGISTRIES)
    result = run_playbook(tmp_path / "play.yml", tmp_path / "hosts.yml", extra_vars=variables, diff=True,
                          runs_dir=tmp_path / "runs")
    assert result.rc == 0, result
    assert (tmp_path / "etc" / "registries.yaml").is_file() and restarts(tmp_path) == 1
    artifacts = [p for p in (tmp_path / "runs").rglob("*") if p.is_file()]
    assert any("job_events" in str(p) for p in artifacts)
    for path in artifacts:
        text = path.read_bytes().decode("utf-8", "replace")
        assert PASSWORD not in text and PROXY_PASSWORD not in text, path


def test_check_mode_on_a_fresh_host_changes_nothing(run_play: Callable[..., Run], tmp_path: Path) -> None:
    result = converge(run_play, tmp_path, "--check", k3s_http_proxy="http://proxy:3128", k3s_registries=REGISTRIES)
    assert result.returncode == 0, result.stdout
    assert not (tmp_path / "default-k3s").exists() and not (tmp_path / "etc" / "registries.yaml").exists()


SETTINGS = """
- hosts: localhost
  gather_facts: false
  tasks:
    - name: Check the k3s settings
      ansible.builtin.include_role:
        name: k3s
        tasks_from: settings.yml
"""


@pytest.mark.parametrize("variables,problem", [
    ({"k3s_http_proxy": "http://proxy:3128\nLD_PRELOAD=/tmp/x.so"}, "k3s_http_proxy: "),
    ({"k3s_no_proxy": ["10.0.0.0/8,.corp"]}, "k3s_no_proxy: entry"),
    ({"k3s_registries": {"mirrors": {"docker.io": {"endpoint": ["ftp://m"]}}}}, "mirrors.docker.io.endpoint"),
    ({"k3s_https_proxy": f"http://u:{PROXY_PASSWORD} @p:3128"}, "u:***@p:3128"),
])
def test_role_refuses_bad_values_before_anything_changes(run_play: Callable[..., Run], variables: dict[str, object],
                                                         problem: str) -> None:
    inventory = ("all:\n  children:\n    openshell_servers:\n      hosts:\n        localhost:\n"
                 f"          ansible_connection: local\n"
                 f"          ansible_python_interpreter: {sys.executable}\n")
    result = run_play(inventory, SETTINGS, extra_vars={"openshell_first_server": "localhost", **variables},
                      env=ROLE_TEST_ENV, timeout=300)
    assert result.returncode == 2, result.stdout
    assert problem in result.stdout and PROXY_PASSWORD not in result.stdout


def test_restarts_go_one_node_at_a_time() -> None:
    handlers = yaml.safe_load((REPO / "roles/k3s/handlers/main.yml").read_text())
    restart = next(h for h in handlers if h["name"] == "Restart k3s")
    assert "restart k3s" in restart["listen"] and restart["throttle"] == 1


# --------------------------------------------------------------------------- render and the doctor's bundle
def test_render_writes_the_files_only_when_set(tmp_path: Path) -> None:
    inventory = tmp_path / "hosts.yml"
    hosts = {"openshell_servers": {"hosts": {"server1": {"ansible_host": "127.0.0.1"}}},
             "openshell_agents": {"hosts": {"agent1": {"ansible_host": "127.0.0.2"}}}}
    inventory.write_text(yaml.safe_dump({"all": {"vars": {"ansible_connection": "ssh", "ansible_port": 9},
                                                 "children": hosts}}))
    env = {**ansible_env(), "ANSIBLE_SSH_EXECUTABLE": "/bin/false"}

    def render(out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "openshell_auto", "render", "-i", str(inventory), "-o", str(out),
                               *extra], capture_output=True, text=True, env=env, timeout=300, check=False)

    plain = render(tmp_path / "plain")
    assert plain.returncode == 0, plain.stderr
    assert not list((tmp_path / "plain").rglob("registries.yaml")) and not list((tmp_path / "plain").rglob("k3s*env"))
    assert not (tmp_path / "plain/server1/etc/default").exists()
    extra = json.dumps({"k3s_http_proxy": f"http://u:{PROXY_PASSWORD}@proxy:3128", "k3s_registries": REGISTRIES})
    result = render(tmp_path / "set", "-e", extra)
    assert result.returncode == 0, result.stderr
    assert PASSWORD not in result.stdout + result.stderr and PROXY_PASSWORD not in result.stdout + result.stderr
    agent_env = (tmp_path / "set/agent1/etc/default/k3s-agent").read_text()
    assert f"HTTP_PROXY=http://u:{PROXY_PASSWORD}@proxy:3128" in agent_env and "127.0.0.2" in agent_env
    assert (tmp_path / "set/server1/etc/default/k3s").is_file()
    written = tmp_path / "set/agent1/etc/rancher/k3s/registries.yaml"
    assert yaml.safe_load(written.read_text()) == REGISTRIES and stat.S_IMODE(written.stat().st_mode) == 0o600


def test_doctor_bundle_keeps_no_registry_credentials() -> None:
    # What k3s renders into containerd's config.toml from registries.yaml (auth under the CRI registry
    # configs, k3s-io/k3s pkg/agent/templates): the doctor keeps runtime handlers only.
    text = ('version = 2\n[plugins."io.containerd.grpc.v1.cri".registry.configs."m:5000".auth]\n'
            f'  username = "puller"\n  password = "{PASSWORD}"\n'
            '[plugins."io.containerd.grpc.v1.cri".containerd.runtimes."nvidia"]\n  runtime_type = "io.containerd.runc.v2"\n'
            '[plugins."io.containerd.grpc.v1.cri".containerd.runtimes."nvidia".options]\n'
            '  BinaryName = "/usr/bin/nvidia-container-runtime"\n')
    summary = gather.containerd_summary(text)
    assert summary["nvidia"] and PASSWORD not in json.dumps(summary)
    # The doctor never reads the files that hold proxy or registry credentials.
    sources = [*(REPO / "roles/openshell_doctor").rglob("*.yml"), REPO / "plugins/module_utils/doctor.py", REPO / "plugins/module_utils/gather.py",
               REPO / "openshell_auto/commands/doctor.py"]
    for path in sources:
        text = path.read_text()
        assert "registries.yaml" not in text and "/etc/default" not in text, path


# --------------------------------------------------------------------------- images in the air gap
PUBLIC_REGISTRIES = ("docker.io", "nvcr.io", "ghcr.io", "quay.io", "registry.k8s.io", "gcr.io", "public.ecr.aws")


def _registry(reference: str) -> str:
    first = reference.split("/", 1)[0]
    return first if "/" in reference and ("." in first or ":" in first or first == "localhost") else "docker.io"


def test_every_image_the_roles_name_is_a_checked_variable() -> None:
    from openshell_auto.inventory_checks import IMAGE_REFERENCES
    from openshell_auto.specs import load_specs

    defaults = load_specs().defaults
    named = {name for name, value in defaults.items() if isinstance(value, str)
             and any(value.startswith(f"{r}/") for r in PUBLIC_REGISTRIES)}
    assert named <= set(IMAGE_REFERENCES), named - set(IMAGE_REFERENCES)
    assert set(IMAGE_REFERENCES) <= set(defaults)  # each has its one default in its role


def test_airgap_inventory_pulls_no_image_from_a_public_registry(tmp_path: Path) -> None:
    from openshell_auto.inventory import load_inventory
    from openshell_auto.inventory_checks import IMAGE_REFERENCES
    from openshell_auto.specs import load_specs

    inventory = REPO / "inventories/airgap/hosts.yml"
    classified = load_inventory(inventory)
    defaults = load_specs().defaults
    for host in classified.hosts:
        for name in IMAGE_REFERENCES:
            value = classified.vars[host].get(name, defaults[name]) or ""
            assert value and _registry(value) not in PUBLIC_REGISTRIES, (host, name, value)
    out = tmp_path / "out"
    result = subprocess.run([sys.executable, "-m", "openshell_auto", "render", "-i", str(inventory), "-o", str(out)],
                            capture_output=True, text=True, env=ansible_env(), timeout=300, check=False)
    assert result.returncode == 0, result.stderr
    for host in classified.hosts:
        # k3s's own images (docker.io/rancher/...) and anything else: only the mirror, no fallback to the
        # public endpoint (k3s --disable-default-registry-endpoint, docs.k3s.io private registry page).
        registries = yaml.safe_load((out / host / "etc/rancher/k3s/registries.yaml").read_text())
        for name in ("docker.io", "nvcr.io", "*"):
            endpoints = registries["mirrors"][name]["endpoint"]
            assert endpoints and all(_registry(e.split("://", 1)[1] + "/x") not in PUBLIC_REGISTRIES
                                     for e in endpoints), (host, name)
        config = yaml.safe_load((out / host / "etc/rancher/k3s/config.yaml").read_text())
        assert config.get("disable-default-registry-endpoint") is True, host
    chart = yaml.safe_load((out / classified.servers[0] / "var/lib/rancher/k3s/server/manifests/"
                                  "nvidia-device-plugin.yaml").read_text())
    image = yaml.safe_load(chart["spec"]["valuesContent"])["image"]["repository"]
    assert _registry(image) not in PUBLIC_REGISTRIES


@pytest.mark.parametrize("command", ["server", "agent"])
@pytest.mark.parametrize("text", ["mirrors: [docker.io]\n", "mirrors:\n  docker.io:\n    endpoint: https://m\n",
                                  "mirrors: {docker.io: {endpoint: [x]\n"])
def test_the_k3s_double_refuses_registries_yaml_k3s_cannot_load(tmp_path: Path, command: str, text: str) -> None:
    registries = tmp_path / "registries.yaml"
    registries.write_text(text)
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"private-registry": str(registries), "data-dir": str(tmp_path / "data"),
                                      "server": "http://127.0.0.1:9", "token": "t"}))
    result = subprocess.run([sys.executable, str(REPO / "tests/doubles/k3s/k3s"), command, "--config", str(config)],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 1 and "failed to load private registry configuration" in result.stderr + result.stdout
