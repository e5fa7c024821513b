#!/usr/bin/env python3
"""Print start-up and render figures for openshell-auto (a benchmark, not a test).

Usage: .venv/bin/python bench/bench.py [--runs N]
Figures (median of N runs, wall clock, each a fresh process as a user would run it):
  - `openshell-auto --help`                           target < 0.5 s (ansible imported lazily)
  - `openshell-auto render` on the example inventory
  - `openshell-auto render` on a generated 200-host inventory    target < 5 s
  - `ansible-inventory --list` on the same inventory, measured in the same run, and the ratio
    render / ansible-inventory                                    target <= 1.5
  - in-process (one worker): the CPU a 200-host render spends in Ansible's templating of what
    differs per host, and the imports; their sum against ansible-inventory's CPU is a floor no
    render can go below while it templates with Ansible's own engine
  - the CLI's own cost: `openshell-auto provision --tags <none>` against `ansible-playbook
    playbooks/site.yml --tags <none>` on one local host (only the plays tagged `always` run:
    classification, the variable check, the preflight, which change nothing here)  target <= 0.3 s
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent


def cli() -> list[str]:
    script = Path(sys.executable).parent / "openshell-auto"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "openshell_auto"]


def generated_inventory(path: Path, hosts: int = 200, servers: int = 3) -> Path:
    """servers k3s servers + (hosts - servers) agents, every second agent a GPU host."""
    lines = ["---", "all:", "  vars:", "    ansible_user: root", "  children:", "    openshell_servers:",
             "      hosts:"]
    lines += [f"        server{i:03d}: {{ansible_host: 10.0.0.{i + 1}}}" for i in range(servers)]
    lines += ["    openshell_agents:", "      hosts:"]
    for i in range(hosts - servers):
        gpu = ", openshell_gpu: true" if i % 2 == 0 else ""
        lines.append(f"        agent{i:03d}: {{ansible_host: 10.0.{1 + i // 250}.{1 + i % 250}{gpu}}}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


# Every command runs as an installed package runs: Python's bytecode cached (pip compiles a wheel's
# modules when it installs them; an editable checkout writes __pycache__ on its first run). A
# PYTHONDONTWRITEBYTECODE in the caller's environment (some CI images set it) would make each run
# compile this project's modules and the collection's plugins again; it is dropped here, and each
# command runs once untimed first.
RUN_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def timed(cmd: list[str], runs: int, env: dict[str, str] | None = None, warm: bool = True) -> tuple[float, float, float]:
    """(median wall s, min wall s, median CPU s of the process tree): CPU time is the steadier
    figure on a shared, loaded machine. One untimed run first (bytecode written, files cached)."""
    times: list[float] = []
    cpus: list[float] = []
    env = RUN_ENV if env is None else env
    if warm:
        subprocess.run(cmd, capture_output=True, cwd=REPO, check=False, env=env)
    for _ in range(runs):
        cpu = _children_cpu()
        start = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, check=False, env=env)
        times.append(time.perf_counter() - start)
        cpus.append(_children_cpu() - cpu)
        if proc.returncode != 0:
            sys.exit(f"bench: {' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout}{proc.stderr}")
    return statistics.median(times), min(times), statistics.median(cpus)


SYNTH_TEMPLATE = """# {{ ansible_managed }}
{% set cfg = {'node-name': inventory_hostname, 'server': 'https://' ~ hostvars[openshell_first_server].ansible_host
   ~ ':6443'} | combine(synth_extra) %}
{{ cfg | to_nice_yaml }}
token: {{ synth_token | b64encode }}
gpu: {{ inventory_hostname in groups['openshell_role_gpu'] }}
"""


def synthetic_render(inventory: Path, outdir: Path, templates: int) -> tuple[float, float, int]:
    """In-process render of `templates` synthetic role templates per host (Ansible filters,
    hostvars, dynamic groups), so the figure reflects per-file cost before roles register files."""
    import shutil

    sys.path.insert(0, str(REPO))
    from openshell_auto import paths
    from openshell_auto.render import render_inventory
    from openshell_auto.rendered_files import RenderedFile

    root = outdir.parent / "synthetic-content"
    shutil.copytree(REPO / "roles" / "openshell", root / "roles" / "openshell")
    role = root / "roles" / "synth"
    (role / "templates").mkdir(parents=True)
    (role / "defaults").mkdir()
    (role / "defaults" / "main.yml").write_text("---\nsynth_extra: {a: 1}\nsynth_token: t0k3n\n")
    (role / "templates" / "cfg.j2").write_text(SYNTH_TEMPLATE)
    shutil.copy(REPO / "ansible.cfg", root / "ansible.cfg")
    content = paths.ContentPaths(root)
    paths.content = lambda: content  # type: ignore[assignment]
    registry = [RenderedFile("synth", "cfg.j2", f"/etc/synth/{n}.yaml", "all", "synthetic")
                for n in range(templates)]
    start = time.perf_counter()
    cpu = time.process_time() + _children_cpu()
    result = render_inventory(inventory, outdir, registry=registry)
    return time.perf_counter() - start, time.process_time() + _children_cpu() - cpu, result.file_count


def templating_share(inventory: Path, outdir: Path) -> tuple[float, float, int, float]:
    """In-process render with one worker: (CPU s of the whole render, CPU s inside Ansible's
    templating of what differs per host, those template calls, CPU s of the imports a render
    needs). `render` templates each variable and file once per distinct input, so what is left in
    Ansible's templating is what differs per host (node names, the config built from them)."""
    sys.path.insert(0, str(REPO))
    cpu = time.process_time()
    from openshell_auto import cli, render, render_vars  # noqa: F401 - what `openshell-auto render` imports
    from openshell_auto.commands import render as command  # noqa: F401
    import ansible.inventory.manager
    import ansible.template
    import ansible.vars.manager  # noqa: F401
    imports = time.process_time() - cpu
    spent = [0.0, 0]

    def timed_call(function: Any) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            start = time.process_time()
            try:
                return function(*args, **kwargs)
            finally:
                spent[0] += time.process_time() - start
                spent[1] += 1
        return call

    saved = (render_vars.Resolver._template, render._evaluate, os.environ.get("OPENSHELL_AUTO_RENDER_WORKERS"))
    render_vars.Resolver._template = timed_call(saved[0])  # type: ignore[method-assign]
    render._evaluate = timed_call(saved[1])
    os.environ["OPENSHELL_AUTO_RENDER_WORKERS"] = "1"
    try:
        start = time.process_time()
        render.render_inventory(inventory, outdir)
        total = time.process_time() - start
    finally:
        render_vars.Resolver._template, render._evaluate = saved[0], saved[1]  # type: ignore[method-assign]
        if saved[2] is None:
            os.environ.pop("OPENSHELL_AUTO_RENDER_WORKERS")
        else:
            os.environ["OPENSHELL_AUTO_RENDER_WORKERS"] = saved[2]
    return total, spent[0], int(spent[1]), imports


def count_files(root: Path) -> int:
    return sum(1 for p in root.rglob("*") if p.is_file())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--synthetic-templates", type=int, default=4,
                        help="templates per host for the in-process synthetic render figure")
    args = parser.parse_args()
    base = cli()
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    print(f"runs per figure: {args.runs} after one untimed run, bytecode cached; wall median/min and CPU "
          f"(user+sys) median; "
          f"load average {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        med, low, cpu = timed([*base, "--help"], args.runs)
        print(f"openshell-auto --help:              wall {med:.3f}/{low:.3f} s  cpu {cpu:.3f} s  "
              f"(target < 0.5 s) {'OK' if med < 0.5 else 'SLOW'}")
        out = tmpdir / "example"
        med, low, cpu = timed([*base, "render", "-o", str(out)], args.runs)
        print(f"render example inventory (3 hosts): wall {med:.3f}/{low:.3f} s  cpu {cpu:.3f} s  "
              f"files {count_files(out)}")
        inventory = generated_inventory(tmpdir / "hosts-200.yml")
        out = tmpdir / "big"
        med, low, cpu = timed([*base, "render", "-i", str(inventory), "-o", str(out)], args.runs)
        render_cpu = cpu
        print(f"render 200-host inventory:          wall {med:.3f}/{low:.3f} s  cpu {cpu:.3f} s  "
              f"files {count_files(out)}  (target < 5 s) {'OK' if med < 5 else 'SLOW'}")
        inv_med, inv_low, inv_cpu = timed([str(Path(sys.executable).parent / "ansible-inventory"), "-i",
                                           str(inventory), "--list", "--output", str(tmpdir / "inventory.json")],
                                          args.runs)
        print(f"ansible-inventory --list, same:     wall {inv_med:.3f}/{inv_low:.3f} s  cpu {inv_cpu:.3f} s")
        ratio = med / inv_med
        print(f"render / ansible-inventory (wall medians): {ratio:.2f}x  (target <= 1.5x) "
              f"{'OK' if ratio <= 1.5 else 'SLOW'}")
        total, templating, calls, imports = templating_share(inventory, tmpdir / "share")
        print(f"in-process render, 200 hosts, one worker: cpu {total:.3f} s (imports {imports:.3f} s more), of which "
              f"Ansible templating each variable and file once per distinct input {templating:.3f} s in {calls} "
              f"calls ({1000 * templating / 200:.2f} ms/host)")
        floor = inv_cpu + templating
        print(f"  floor: ansible-inventory's CPU (imports, parse, every host's variables) + that templating = "
              f"{floor:.3f} s = {floor / inv_cpu:.2f}x; render's CPU is {render_cpu / inv_cpu:.2f}x")
        local = tmpdir / "local.yml"
        local.write_text(f"openshell_servers:\n  hosts:\n    bench-local:\n      ansible_connection: local\n"
                         f"      ansible_python_interpreter: {sys.executable}\n", encoding="utf-8")
        none = "openshell-bench-no-such-tag"
        env_play = {**RUN_ENV, "ANSIBLE_CONFIG": str(REPO / "ansible.cfg")}
        # interleaved, one of each in turn: a slow spell of the machine falls on both alike
        play_runs: list[tuple[float, float, float]] = []
        cli_runs: list[tuple[float, float, float]] = []
        for run in range(args.runs):
            play_runs.append(timed([str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(local),
                                    str(REPO / "playbooks" / "site.yml"), "--tags", none], 1, env=env_play,
                                   warm=run == 0))
            cli_runs.append(timed([*base, "provision", "-i", str(local), "--tags", none,
                                   "--artifacts-dir", str(tmpdir / "runs")], 1, warm=run == 0))
        play_med, play_low, play_cpu = (statistics.median(r[0] for r in play_runs), min(r[0] for r in play_runs),
                                        statistics.median(r[2] for r in play_runs))
        cli_med, cli_low, cli_cpu = (statistics.median(r[0] for r in cli_runs), min(r[0] for r in cli_runs),
                                     statistics.median(r[2] for r in cli_runs))
        print(f"ansible-playbook site.yml --tags <none>, 1 local host: wall {play_med:.3f}/{play_low:.3f} s  "
              f"cpu {play_cpu:.3f} s")
        print(f"openshell-auto provision, same:     wall {cli_med:.3f}/{cli_low:.3f} s  cpu {cli_cpu:.3f} s")
        overhead = cli_med - play_med
        print(f"CLI overhead (wall medians): {overhead:.3f} s  (target <= 0.3 s) {'OK' if overhead <= 0.3 else 'SLOW'}")
        seconds, cpu, files = synthetic_render(inventory, tmpdir / "synthetic", args.synthetic_templates)
        print(f"in-process render, 200 hosts x {args.synthetic_templates} synthetic templates: wall {seconds:.3f} s  "
              f"cpu {cpu:.3f} s  files {files}  ({1000 * cpu / max(files, 1):.2f} ms CPU/file)")


if __name__ == "__main__":
    main()
