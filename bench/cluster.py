#!/usr/bin/env python3
"""Print what provisioning costs on N podman test hosts (a benchmark, not a test).

Usage: .venv/bin/python bench/cluster.py [--sizes 2,20] [--connection ssh|podman] [--keep]

For each N: 1 k3s server + N-1 agents, every other host a GPU host (fake GPUs, the fixture
toolkit repository, the k3s test double through the air-gap inputs, exactly as the Molecule
scenarios set them up), reached over ssh (each host's sshd published on a loopback port, the
test key of scripts/test-hosts) as a real cluster is, or with --connection podman through
`podman exec`. It prints, per N:
  - first provision: wall time of `ansible-playbook playbooks/site.yml`;
  - idempotent re-provision: wall time, task headers printed, changed count;
  - controller CPU seconds (ansible-playbook and every process it started on this machine,
    ssh or podman exec clients included) and the controller's peak memory (summed RSS of that process
    tree, sampled every 0.2 s), for both runs;
  - the test hosts' own CPU seconds (their cgroups) for both runs, since they share this
    machine's cores with the controller, which a real cluster does not;
  - the same end state checked by a hand-written read-only shell script (one ssh or `podman
    exec` per host, all hosts at once), its wall time, and the ratio re-run / shell check;
  - the hosts' CPU per second when nothing runs against them (their services' own load, over 10 s
    after the re-run), and the least wall time the re-run's CPU needs on this machine's cores;
  - the run logs, with the slowest tasks (ansible.posix.profile_tasks), stay in a temp directory
    named at the end;
and, with two or more sizes, the ratios largest N / smallest N. Hosts are removed afterwards
(--keep leaves them). Needs scripts/test-hosts to have built localhost/debian-systemd:12, root,
and the venv on PATH (ansible-playbook, containers.podman).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
IMAGE = "localhost/debian-systemd:12"
NETWORK = "openshell-bench"
PREFIX = "bench-"
# Each host's sshd on 127.0.0.1:SSH_PORT_BASE+index; the key scripts/test-hosts authorizes for root.
SSH_PORT_BASE = 22300
SSH_KEY = Path.home() / ".cache" / "openshell-test-hosts" / "id_ed25519"
IDLE_SECONDS = 10
SSH_ARGS = ["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR"]

# Read-only checks of the end state the roles manage, written by hand: what a person would
# run to see that a converged host is still converged. Prints one line per failed check.
SHELL_CHECK = r"""
fail() { echo "FAIL $*"; }
gpu=$1; server=$2
if [ "$gpu" = 1 ]; then
  [ "$(dpkg-query -W -f='${Version}' nvidia-container-toolkit-base 2>/dev/null)" = 1.18.2-1 ] || fail toolkit version
  apt-mark showhold | grep -qx nvidia-container-toolkit-base || fail toolkit hold
  grep -qs 'signed-by=' /etc/apt/sources.list.d/nvidia-container-toolkit.list || fail signed source
  names=$(nvidia-ctk cdi list 2>/dev/null)
  echo "$names" | grep -qx 'nvidia.com/gpu=0' || fail cdi index name
  echo "$names" | grep -qx 'nvidia.com/gpu=all' || fail cdi all name
  [ -s /etc/nvidia-container-toolkit/nvidia-cdi-refresh.env ] || fail refresh env
  grep -qs 'nvidia.com/gpu.present=true' /etc/rancher/k3s/config.yaml || fail gpu node label
fi
[ -x /usr/local/bin/k3s ] || fail k3s binary
/usr/local/bin/k3s --version 2>/dev/null | grep -q 'v1.35.2+k3s1' || fail k3s version
if [ "$server" = 1 ]; then
  systemctl is-active -q k3s || fail k3s active
  [ "$(stat -c %a /var/lib/rancher/k3s/server/node-token 2>/dev/null)" = 600 ] || fail token mode
  [ "$(stat -c %a /etc/rancher/k3s/k3s.yaml 2>/dev/null)" = 600 ] || fail kubeconfig mode
  k3s kubectl get helmchart nvidia-device-plugin -n kube-system -o jsonpath='{.spec.valuesContent}' 2>/dev/null \
    | grep -q 'deviceListStrategy: cdi-cri' || fail helmchart values
  k3s kubectl get nodes >/dev/null 2>&1 || fail api
else
  systemctl is-active -q k3s-agent || fail k3s-agent active
fi
true
"""


@dataclass
class Run:
    wall: float = 0.0
    cpu: float = 0.0
    peak_rss_mib: float = 0.0
    hosts_cpu: float = 0.0
    headers: int = 0
    changed: int = 0
    failed: int = 0
    rc: int = 0


@dataclass
class Figures:
    n: int
    first: Run = field(default_factory=Run)
    rerun: Run = field(default_factory=Run)
    shell_wall: float = 0.0
    shell_failures: list[str] = field(default_factory=list)
    # the hosts' CPU per second with nothing running against them (their services: k3s or its test
    # double, systemd), measured over IDLE_SECONDS after the re-run
    hosts_idle_rate: float = 0.0


def sh(*argv: str, check: bool = True, **kw: object) -> subprocess.CompletedProcess[str]:
    result: subprocess.CompletedProcess[str] = subprocess.run(  # type: ignore[call-overload]
        list(argv), check=check, text=True, capture_output=True, **kw)
    return result


def host_names(n: int) -> list[str]:
    return [f"{PREFIX}server"] + [f"{PREFIX}agent{i}" for i in range(1, n)]


def is_gpu(index: int) -> bool:
    return index % 2 == 0  # the server and every other agent: half the hosts


def start_hosts(names: list[str]) -> None:
    if sh("podman", "network", "exists", NETWORK, check=False).returncode != 0:
        sh("podman", "network", "create", NETWORK)
    for name in names:
        sh("podman", "rm", "-f", name, check=False)
        sh("podman", "run", "-d", "--name", name, "--hostname", name, "--network", NETWORK,
           "--publish", f"127.0.0.1:{SSH_PORT_BASE + names.index(name)}:22", "--systemd", "always", IMAGE, "/sbin/init")
    deadline = time.monotonic() + 120
    for name in names:
        while sh("podman", "exec", name, "systemctl", "is-system-running", check=False).stdout.strip() not in (
                "running", "degraded"):
            if time.monotonic() > deadline:
                raise SystemExit(f"bench: {name} did not finish booting within 120 s")
            time.sleep(0.5)


def stop_hosts(names: list[str]) -> None:
    for name in names:
        sh("podman", "rm", "-f", "-t", "2", name, check=False)
    sh("podman", "network", "rm", "-f", NETWORK, check=False)


def connection_vars(connection: str, index: int) -> dict[str, object]:
    if connection == "podman":
        return {"ansible_connection": "containers.podman.podman"}
    return {"ansible_connection": "ssh", "ansible_host": "127.0.0.1", "ansible_port": SSH_PORT_BASE + index,
            "ansible_user": "root", "ansible_ssh_private_key_file": str(SSH_KEY),
            "ansible_ssh_common_args": " ".join(SSH_ARGS)}


def write_inventory(path: Path, names: list[str], inputs: Path, connection: str) -> None:
    hosts = {name: {**connection_vars(connection, i), "openshell_gpu": is_gpu(i),
                    "prepare_gpu_count": 1} for i, name in enumerate(names)}
    group_vars = {
        "ansible_python_interpreter": "/usr/bin/python3",
        "nvidia_container_toolkit_driver_version_file": "/etc/openshell-test/nvidia-driver-version",
        "nvidia_container_toolkit_repo_base_url": "http://127.0.0.1:8765/signed/stable",
        "nvidia_container_toolkit_gpg_key_url": "http://127.0.0.1:8765/signed/gpgkey",
        "k3s_binary_src": str(inputs / "k3s"),
        "k3s_checksum_src": str(inputs / "sha256sum-amd64.txt"),
        "k3s_images_src": str(inputs / "k3s-airgap-images-amd64.tar"),
        "k3s_ready_delay": 2,
        "nvidia_device_plugin_chart_src": str(inputs / "nvidia-device-plugin-0.19.1.tgz"),
        "nvidia_device_plugin_image_src": str(inputs / "k8s-device-plugin-v0.19.1.tar"),
        "nvidia_device_plugin_wait_delay": 2,
    }
    inventory = {"all": {"vars": group_vars, "children": {
        "openshell_servers": {"hosts": {names[0]: hosts[names[0]]}},
        "openshell_agents": {"hosts": {name: hosts[name] for name in names[1:]}}}}}
    path.write_text(yaml.safe_dump(inventory, sort_keys=False))


def cgroup_cpu_seconds(names: list[str]) -> float:
    """CPU the test hosts' containers used so far (cgroup v1 cpuacct or v2 cpu.stat)."""
    total = 0.0
    for name in names:
        cgroup = sh("podman", "inspect", "--format", "{{.State.CgroupPath}}", name, check=False).stdout.strip()
        v1 = Path("/sys/fs/cgroup/cpuacct") / cgroup.lstrip("/") / "cpuacct.usage"
        v2 = Path("/sys/fs/cgroup") / cgroup.lstrip("/") / "cpu.stat"
        if v1.is_file():
            total += int(v1.read_text()) / 1e9
        elif v2.is_file():
            usage = re.search(r"^usage_usec (\d+)", v2.read_text(), re.MULTILINE)
            total += int(usage.group(1)) / 1e6 if usage else 0.0
    return total


def tree_rss_kib(root: int) -> int:
    """Summed VmRSS of `root` and all its descendants (from /proc)."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
        except OSError:
            continue
        ppid = re.search(r"^PPid:\s+(\d+)", status, re.MULTILINE)
        vmrss = re.search(r"^VmRSS:\s+(\d+)", status, re.MULTILINE)
        pid = int(entry.name)
        rss[pid] = int(vmrss.group(1)) if vmrss else 0
        if ppid:
            children.setdefault(int(ppid.group(1)), []).append(pid)
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += rss.get(pid, 0)
        todo.extend(children.get(pid, []))
    return total


def run_playbook(inventory: Path, playbook: str, env: dict[str, str], names: list[str], log: Path) -> Run:
    before_cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
    before_hosts = cgroup_cpu_seconds(names)
    start = time.monotonic()
    with log.open("w") as out:
        proc = subprocess.Popen(["ansible-playbook", "-i", str(inventory), str(REPO / playbook)],
                                stdout=out, stderr=subprocess.STDOUT, env=env, text=True)
        peak = 0
        stop = threading.Event()

        def sample() -> None:
            nonlocal peak
            while not stop.is_set():
                peak = max(peak, tree_rss_kib(proc.pid))
                stop.wait(0.2)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        rc = proc.wait()
        stop.set()
        sampler.join()
    wall = time.monotonic() - start
    after_cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
    text = log.read_text()
    recap = [dict((k, int(v)) for k, v in re.findall(r"(\w+)=(\d+)", line))
             for line in text.split("PLAY RECAP", 1)[-1].splitlines() if "ok=" in line]
    return Run(wall=wall,
               cpu=(after_cpu.ru_utime - before_cpu.ru_utime) + (after_cpu.ru_stime - before_cpu.ru_stime),
               peak_rss_mib=peak / 1024, hosts_cpu=cgroup_cpu_seconds(names) - before_hosts,
               headers=len(re.findall(r"^TASK \[", text, re.MULTILINE)),
               changed=sum(r.get("changed", 0) for r in recap), failed=sum(r.get("failed", 0) + r.get(
                   "unreachable", 0) for r in recap), rc=rc)


def shell_check(names: list[str], connection: str) -> tuple[float, list[str]]:
    def one(index_name: tuple[int, str]) -> list[str]:
        index, name = index_name
        flags = ["1" if is_gpu(index) else "0", "1" if index == 0 else "0"]
        if connection == "podman":
            argv = ["podman", "exec", name, "sh", "-c", SHELL_CHECK, "check", *flags]
        else:  # the script on stdin, its two flags as sh's arguments
            argv = ["ssh", "-i", str(SSH_KEY), *SSH_ARGS, "-p", str(SSH_PORT_BASE + index), "root@127.0.0.1",
                    "sh", "-s", "--", *flags]
        out = sh(*argv, check=False, input=SHELL_CHECK if connection != "podman" else None).stdout
        return [f"{name}: {line}" for line in out.splitlines() if line.startswith("FAIL")]

    start = time.monotonic()
    with ThreadPoolExecutor(max_workers=len(names)) as pool:
        failures = [f for result in pool.map(one, enumerate(names)) for f in result]
    return time.monotonic() - start, failures


def bench(n: int, keep: bool, workdir: Path, connection: str) -> Figures:
    names = host_names(n)
    figures = Figures(n)
    env = {**os.environ, "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"), "ANSIBLE_ROLES_PATH": str(REPO / "roles"),
           "ANSIBLE_NOCOLOR": "1", "ANSIBLE_FORCE_COLOR": "0", "MOLECULE_EPHEMERAL_DIRECTORY": str(workdir),
           "ANSIBLE_HOST_KEY_CHECKING": "False",
           # per-task times in each log (ansible.posix ships in the `ansible` package the tests install)
           "ANSIBLE_CALLBACKS_ENABLED": "ansible.posix.profile_tasks", "PROFILE_TASKS_TASK_OUTPUT_LIMIT": "15"}
    inventory = workdir / "hosts.yml"
    write_inventory(inventory, names, workdir / "k3s-airgap", connection)
    print(f"N={n}: starting {n} hosts", file=sys.stderr, flush=True)
    start_hosts(names)
    try:
        for prepare in ("molecule/shared/k3s-airgap-inputs.yml", "molecule/shared/prepare-gpu-host.yml"):
            run = run_playbook(inventory, prepare, env, names, workdir / f"prepare-{Path(prepare).stem}.log")
            if run.rc != 0:
                raise SystemExit(f"bench: {prepare} failed; see {workdir}")
        print(f"N={n}: first provision", file=sys.stderr, flush=True)
        figures.first = run_playbook(inventory, "playbooks/site.yml", env, names, workdir / "first.log")
        if figures.first.rc != 0:
            raise SystemExit(f"bench: first provision failed (rc {figures.first.rc}); see {workdir}/first.log")
        print(f"N={n}: re-provision", file=sys.stderr, flush=True)
        figures.rerun = run_playbook(inventory, "playbooks/site.yml", env, names, workdir / "rerun.log")
        figures.shell_wall, figures.shell_failures = shell_check(names, connection)
        before = cgroup_cpu_seconds(names)
        time.sleep(IDLE_SECONDS)
        figures.hosts_idle_rate = (cgroup_cpu_seconds(names) - before) / IDLE_SECONDS
    finally:
        if not keep:
            stop_hosts(names)
    return figures


def report(all_figures: list[Figures], connection: str) -> None:
    print(f"openshell-auto cluster benchmark, {time.strftime('%Y-%m-%d')}, {platform.node()}: "
          f"{os.cpu_count()} cores, {os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB, "
          f"{platform.platform()}, hosts reached over {connection}")
    for f in all_figures:
        gpus = sum(1 for i in range(f.n) if is_gpu(i))
        print(f"\nN={f.n} (1 server, {f.n - 1} agents, {gpus} GPU hosts)")
        for label, r in (("first provision", f.first), ("re-provision", f.rerun)):
            print(f"  {label:16} wall {r.wall:7.1f} s  controller CPU {r.cpu:7.1f} s ({r.cpu / f.n:5.1f} s/host)  "
                  f"peak controller RSS {r.peak_rss_mib:6.0f} MiB  hosts' CPU {r.hosts_cpu:7.1f} s  "
                  f"task headers {r.headers}  changed {r.changed}  failed {r.failed}")
        ratio = f.rerun.wall / f.shell_wall if f.shell_wall else float("inf")
        state = "end state OK" if not f.shell_failures else f"{len(f.shell_failures)} check(s) FAILED: " + \
            "; ".join(f.shell_failures[:5])
        print(f"  shell check      wall {f.shell_wall:7.2f} s  ({state})  re-provision / shell check = {ratio:.0f}x")
        idle = f.hosts_idle_rate * f.rerun.wall
        floor = (f.rerun.cpu + f.rerun.hosts_cpu) / (os.cpu_count() or 1)
        print(f"  hosts idle       {f.hosts_idle_rate:7.2f} CPU s/s with nothing running: {idle:.1f} s of the re-run's "
              f"hosts' CPU is their services' own load; the re-run's CPU (controller + hosts) needs at least "
              f"{floor:.1f} s of wall on {os.cpu_count()} cores")
    if len(all_figures) >= 2:
        small, large = all_figures[0], all_figures[-1]
        print(f"\nN={large.n} / N={small.n}: first provision wall {large.first.wall / small.first.wall:.2f}x, "
              f"re-provision wall {large.rerun.wall / small.rerun.wall:.2f}x, controller CPU per host on re-run "
              f"{(large.rerun.cpu / large.n) / (small.rerun.cpu / small.n):.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--sizes", default="2,20", help="comma-separated host counts (default 2,20)")
    parser.add_argument("--connection", choices=("ssh", "podman"), default="ssh",
                        help="how the controller reaches the hosts (default ssh, as a real cluster)")
    parser.add_argument("--keep", action="store_true", help="leave the hosts running (the last size only)")
    args = parser.parse_args()
    # the venv this runs from (.venv/bin/python bench/cluster.py) provides ansible-playbook
    os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    sizes = [int(s) for s in args.sizes.split(",")]
    if any(n < 2 for n in sizes):
        parser.error("--sizes: every size must be 2 or more (one server and at least one agent)")
    if args.connection == "ssh" and not SSH_KEY.is_file():
        parser.error(f"{SSH_KEY} is missing: run scripts/test-hosts (it creates the key and the images)")
    if shutil.which("ansible-playbook") is None or shutil.which("podman") is None:
        parser.error("ansible-playbook and podman must be on PATH (export PATH=$PWD/.venv/bin:$PATH)")
    results = []
    for n in sizes:
        workdir = Path(tempfile.mkdtemp(prefix=f"openshell-bench-{n}-"))
        results.append(bench(n, args.keep and n == sizes[-1], workdir, args.connection))
        print(f"N={n}: logs (first.log, rerun.log with per-task times) in {workdir}", file=sys.stderr)
    report(results, args.connection)
    json.dump([f.__dict__ | {"first": f.first.__dict__, "rerun": f.rerun.__dict__} for f in results],
              sys.stderr)
    print(file=sys.stderr)


if __name__ == "__main__":
    main()
