"""Run a playbook of this project through ansible-runner and summarise the result.

`run_playbook()` is the one entry every command uses (provision: site.yml; verify, doctor and
reset: their playbooks). It never puts secrets on a command line or into the artifacts: extra
vars go into a 0600 temp file outside the artifact directory, passed as `-e @file` and deleted
afterwards; ansible-runner's env/ files are suppressed.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import signal
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, UTC
from pathlib import Path
from types import FrameType
from typing import Any

from openshell_auto import paths
from openshell_auto.ansible_args import AnsibleArgs
from openshell_auto.errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, InputError

STAT_KEYS = ("ok", "changed", "failed", "unreachable", "skipped", "rescued", "ignored")
# playbook_on_stats event field -> our name
_STATS_FIELDS = {"ok": "ok", "changed": "changed", "failures": "failed", "dark": "unreachable",
                 "skipped": "skipped", "rescued": "rescued", "ignored": "ignored"}


@dataclass
class Failure:
    """The task that failed (or found the host unreachable) and Ansible's message."""

    host: str
    play: str
    task: str
    message: str
    unreachable: bool = False


@dataclass
class RunResult:
    """Outcome of one playbook run. `to_json()` is the `--json` output."""

    playbook: str
    status: str  # successful | failed | canceled | timeout | error
    rc: int
    exit_code: int
    artifacts_dir: str
    hosts: dict[str, dict[str, int]] = field(default_factory=dict)
    failures: list[Failure] = field(default_factory=list)
    duration_s: float = 0.0
    message: str = ""
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """Shape (all keys always present)::

            {"playbook": "site.yml",
             "status": "successful" | "failed" | "canceled" | "timeout" | "error",
             "rc": <ansible-playbook exit status>,
             "exit_code": 0 | 1 | 130,
             "artifacts_dir": "/abs/path/of/the/run",
             "duration_s": 12.3,
             "hosts": {"<host>": {"ok": n, "changed": n, "failed": n, "unreachable": n,
                                  "skipped": n, "rescued": n, "ignored": n}},
             "failures": [{"host": str, "play": str, "task": str, "message": str,
                           "unreachable": bool}],
             "message": "" or a reason when no host summary exists,
             "warnings": ["<Ansible's, a module's or a role's warning>", ...],
             "notes": ["<host>: <what a role reports for the operator, e.g. a snapshot's name>", ...]}
        """
        data = asdict(self)
        data["duration_s"] = round(self.duration_s, 2)
        return data


EventHandler = Callable[[dict[str, Any]], None]


@dataclass
class RunPosition:
    """The play and task a run is at. `EventCollector` keeps it; a `Display` only reads it."""

    play: str = ""
    task: str = ""

    def follow(self, event: Mapping[str, Any]) -> None:
        """Move on at a play or task start event; other events leave the position as it is."""
        kind = event.get("event", "")
        data = event.get("event_data") or {}
        if kind == "playbook_on_play_start":
            self.play = str(data.get("play", ""))
        elif kind == "playbook_on_task_start":
            self.task = str(data.get("task", ""))


class Display:
    """Base of a live view of a run (see progress.py). The collector shares its `position` with
    the display and moves it on before each call, so the display reads the current play/task."""

    def __init__(self) -> None:
        self.position = RunPosition()

    def __call__(self, event: dict[str, Any]) -> None:
        raise NotImplementedError


class EventCollector:
    """Collects per-host stats and failures from ansible-runner events; forwards to a display."""

    def __init__(self, display: EventHandler | None = None) -> None:
        self.display = display
        # one position per run: a Display reads the same object the collector moves on
        self.position = display.position if isinstance(display, Display) else RunPosition()
        self.stats: dict[str, dict[str, int]] = {}
        self.last_failure: dict[str, Failure] = {}
        self.seen_hosts: dict[str, None] = {}
        self.warnings: dict[str, None] = {}  # ordered, each once
        self.notes: dict[str, None] = {}

    def __call__(self, event: dict[str, Any]) -> bool:
        kind = event.get("event", "")
        data = event.get("event_data") or {}
        self.position.follow(event)
        if kind in ("runner_on_failed", "runner_on_unreachable") and not data.get("ignore_errors"):
            host = str(data.get("host", ""))
            self.last_failure[host] = Failure(
                host=host, play=str(data.get("play", self.position.play)),
                task=str(data.get("task", self.position.task)),
                message=failure_message(data.get("res") or {}), unreachable=kind == "runner_on_unreachable")
        elif kind == "playbook_on_stats":
            for source, name in _STATS_FIELDS.items():
                for stat_host, count in (data.get(source) or {}).items():
                    self.stats.setdefault(str(stat_host), dict.fromkeys(STAT_KEYS, 0))[name] = int(count)
        for warning in event_warnings(event):
            self.warnings.setdefault(warning, None)
        note = role_message(event, _ROLE_NOTE)
        if note:
            self.notes.setdefault(note, None)
        event_host = data.get("host")
        if event_host:
            self.seen_hosts.setdefault(str(event_host), None)
        if self.display is not None:
            self.display(event)
        return True  # keep the event in the artifacts


_WARNING_LINE = ("[WARNING]:", "[DEPRECATION WARNING]:")
_ROLE_WARNING = "WARNING:"  # how the roles' own warnings start (ansible.builtin.debug msg)
_ROLE_NOTE = "NOTE:"  # how the roles' reports for the operator start (a snapshot's name)
MAX_WARNINGS = 50


def event_warnings(event: Mapping[str, Any]) -> list[str]:
    """Warnings one event carries, one line each: Ansible's `[WARNING]:` lines in the event's
    output, a module's `warnings`, and a role's debug message starting with `WARNING:`."""
    found: list[str] = []
    data = event.get("event_data") or {}
    res = found_res if isinstance(found_res := data.get("res"), Mapping) else {}
    for warning in res.get("warnings") or ():
        found.append(" ".join(str(warning).split()))
    role_warning = role_message(event, _ROLE_WARNING)
    if role_warning:
        found.append(role_warning)
    stdout = event.get("stdout")
    if isinstance(stdout, str) and "WARNING]:" in stdout:
        for line in stdout.splitlines():  # the warning's own line (help text and origin follow it)
            text = line.strip()
            if text.startswith(_WARNING_LINE):
                found.append(" ".join(text.split(":", 1)[1].split()))
    return [w if len(w) <= 600 else w[:597] + "..." for w in found if w]


def role_message(event: Mapping[str, Any], prefix: str) -> str:
    """`<host>: <text>` of a role's debug message that starts with `prefix` (one line, at most 600
    characters), else ''."""
    data = event.get("event_data") or {}
    res = found_res if isinstance(found_res := data.get("res"), Mapping) else {}
    if event.get("event") != "runner_on_ok" or data.get("task_action") not in ("debug", "ansible.builtin.debug"):
        return ""
    msg = res.get("msg")
    if not (isinstance(msg, str) and msg.lstrip().startswith(prefix)):
        return ""
    host = data.get("host")
    text = " ".join(msg.split()).removeprefix(prefix).strip()
    text = f"{host}: {text}" if host else text
    return text if len(text) <= 600 else text[:597] + "..."


def failure_message(res: Mapping[str, Any]) -> str:
    """One readable line from a task result (msg, else stderr/stdout, else the module's reason)."""
    for key in ("msg", "stderr", "reason", "stdout", "exception"):
        value = res.get(key)
        if value:
            text = value if isinstance(value, str) else json.dumps(value)
            text = " ".join(text.split())
            return text if len(text) <= 600 else text[:597] + "..."
    results = res.get("results")
    if isinstance(results, list):
        for item in results:
            if isinstance(item, Mapping) and item.get("failed"):
                return failure_message(item)
    return "task failed (no message; see the run's artifacts)"


def default_runs_dir() -> Path:
    """Base directory of per-run directories: $OPENSHELL_AUTO_RUNS_DIR, else ./runs."""
    env = os.environ.get("OPENSHELL_AUTO_RUNS_DIR")
    return Path(env) if env else Path.cwd() / "runs"


def new_run_dir(base: Path | None, playbook: str) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    root = (base or default_runs_dir()).expanduser().resolve()
    if root.exists() and not root.is_dir() or any(p.exists() and not p.is_dir() for p in root.parents):
        raise InputError(f"--artifacts-dir {root}: field artifacts-dir: is not a directory; give a directory "
                         "(it is created when missing)")
    stem = Path(playbook).stem
    for n in range(1000):
        candidate = root / (f"{stamp}-{stem}" if n == 0 else f"{stamp}-{stem}-{n}")
        try:
            candidate.mkdir(parents=True, exist_ok=False)
            candidate.chmod(0o700)  # artifacts hold task output
            return candidate
        except FileExistsError:
            continue
    raise InputError(f"{root}: cannot create a new run directory; clean up old runs")


def resolve_playbook(name: str | Path) -> Path:
    """A playbook of the content root (e.g. 'site.yml'), or an existing path."""
    candidate = Path(name)
    if candidate.is_absolute() or candidate.is_file():
        if not candidate.is_file():
            raise InputError(f"{candidate}: playbook not found")
        return candidate.resolve()
    path = paths.content().playbook(str(name))
    if not path.is_file():
        raise InputError(f"{path}: playbook not found in the installed content; reinstall openshell-auto")
    return path


def write_extra_vars(extra_vars: Mapping[str, Any]) -> Path:
    """Write extra vars to a 0600 JSON file in the system temp dir (never in the artifacts)."""
    fd, name = tempfile.mkstemp(prefix="openshell-auto-extravars-", suffix=".json")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(dict(extra_vars), handle)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
    return Path(name)


ExtraVars = Mapping[str, Any] | Sequence[Mapping[str, Any] | Path]


def build_cmdline(*, extra_vars_files: Sequence[Path], tags: str | None, skip_tags: str | None, check: bool,
                  diff: bool) -> list[str]:
    args: list[str] = []
    for file in extra_vars_files:
        args += ["-e", f"@{file}"]
    if tags:
        args += ["--tags", tags]
    if skip_tags:
        args += ["--skip-tags", skip_tags]
    if check:
        args.append("--check")
    if diff:
        args.append("--diff")
    return args


@contextlib.contextmanager
def _pty_closed_at_once() -> Iterator[None]:
    """ansible-runner closes the child's pty (pexpect -> ptyprocess `close()`) only once its loop
    `while child.isalive()` has seen ansible-playbook exit and reaped it; ptyprocess still sleeps
    `delayafterclose` (0.1 s) there "to give the kernel time to update process status", which
    cannot change for a reaped child. Every command waited those 0.1 s after its run. While a run
    is in progress, the ptys ansible-runner spawns close without that wait; where the child were
    still alive at close, ptyprocess terminates it as before (`terminate(force)` has delays of
    its own)."""
    import pexpect

    original = pexpect.spawn

    class _Spawn(original):  # type: ignore[misc,valid-type]
        def _spawnpty(self, args: Any, **kwargs: Any) -> Any:
            pty = super()._spawnpty(args, **kwargs)
            pty.delayafterclose = 0
            return pty

    pexpect.spawn = _Spawn  # type: ignore[misc]
    try:
        yield
    finally:
        pexpect.spawn = original  # type: ignore[misc]


class _Interrupt:
    """SIGINT/SIGTERM set a flag the runner polls (cancel_callback): the child is stopped cleanly."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self._stopped = False
        self._previous: dict[int, Any] = {}

    def _handle(self, signum: int, frame: FrameType | None) -> None:  # noqa: ARG002
        self.signum = signum

    def __enter__(self) -> _Interrupt:
        from openshell_auto.proctree import adopt_orphans

        adopt_orphans(True)  # what the run detaches (ssh ControlPersist masters) stays in its tree
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(ValueError):  # not the main thread
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        from openshell_auto.proctree import adopt_orphans

        adopt_orphans(False)
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)

    def cancelled(self) -> bool:
        """Polled by ansible-runner about once a second. On the first poll after a signal, stop
        the run's whole process tree (SIGINT, SIGTERM, SIGKILL within a bounded grace period)
        before ansible-runner kills ansible-playbook's process group, which the workers left."""
        if self.signum is None:
            return False
        if not self._stopped:
            self._stopped = True
            from openshell_auto.proctree import stop_descendants

            stop_descendants()
        return True


def run_playbook(
    name: str | Path,
    inventory: Path | str | Sequence[Path | str],
    *,
    limit: str | None = None,
    tags: str | None = None,
    skip_tags: str | None = None,
    extra_vars: ExtraVars | None = None,
    check: bool = False,
    diff: bool = False,
    forks: int | None = None,
    verbosity: int = 0,
    runs_dir: Path | None = None,
    display: EventHandler | None = None,
    args: AnsibleArgs | None = None,
) -> RunResult:
    """Run a playbook with ansible-runner; return per-host stats and failures.

    `extra_vars` is a mapping, or a sequence of mappings and Paths in `-e` order (see
    `extra_vars.extra_vars_sources`): mappings are written to 0600 temp files outside the
    artifacts and deleted afterwards, Paths (the user's own vars files) are passed as `-e @path`.

    `inventory` is one -i source or several (files, directories, `host1,host2,` lists). `args`
    carries the pass-through options (ansible_args.AnsibleArgs; its check/diff/forks/verbosity
    win over the keyword arguments of the same name); secrets it holds are 0600 temp files,
    deleted by its caller (`AnsibleArgs.cleanup`).

    The caller validates the inventory first (`inventory_sources.load_sources`). Artifacts land in
    a new per-run directory under `runs_dir` (default: `default_runs_dir()`).
    """
    import ansible_runner  # lazy: heavy import

    from openshell_auto.inventory_sources import is_host_list

    playbook = resolve_playbook(name)
    if args is None:
        args = AnsibleArgs(check=check, diff=diff, forks=forks, verbosity=verbosity)
    sources = [inventory] if isinstance(inventory, (str, Path)) else list(inventory)
    inventories: list[str] = []
    for source in sources:
        if is_host_list(str(source)):
            inventories.append(str(source))
            continue
        path = Path(source).resolve()
        if not path.exists():
            raise InputError(f"{path}: inventory file not found; pass an existing file with -i")
        inventories.append(str(path))
    if args.forks is not None and args.forks < 1:
        raise InputError(f"--forks {args.forks}: must be 1 or more")
    content = paths.content()
    run_dir = new_run_dir(runs_dir, playbook.name)
    # ansible-runner reads settings only from env/settings (a `settings=` argument is dropped when
    # that file is missing): poll cancel_callback every second instead of every 5 s. No secrets here.
    (run_dir / "env").mkdir(mode=0o700)
    (run_dir / "env" / "settings").write_text("---\npexpect_timeout: 1\n", encoding="utf-8")
    temp_files: list[Path] = []
    extra_files: list[Path] = []
    try:
        for chunk in _extra_vars_chunks(extra_vars):
            if isinstance(chunk, Path):
                extra_files.append(chunk)
            else:
                temp_files.append(write_extra_vars(chunk))
                extra_files.append(temp_files[-1])
    except BaseException:
        for file in temp_files:
            file.unlink(missing_ok=True)
        raise
    collector = EventCollector(display)
    own = {**_envvars(content), **args.env()}
    cmdline = build_cmdline(extra_vars_files=extra_files, tags=tags, skip_tags=skip_tags, check=False,
                            diff=False) + args.cmdline()
    started = time.monotonic()
    try:
        with _Interrupt() as interrupt, _pty_closed_at_once():
            runner = ansible_runner.run(
                private_data_dir=str(run_dir),
                artifact_dir=str(run_dir.parent),
                ident=run_dir.name,
                project_dir=str(content.root),
                playbook=str(playbook),
                inventory=inventories,
                limit=limit,
                forks=args.forks,
                verbosity=args.verbosity or None,
                cmdline=" ".join(_quote(a) for a in cmdline) or None,
                envvars=own,
                event_handler=collector,
                cancel_callback=interrupt.cancelled,
                # ansible-runner writes artifacts/command (with the whole environment) just before it
                # reports "running" and starts ansible-playbook: scrub it then, not only at the end.
                status_handler=functools.partial(_scrub_when_running, run_dir, own),
                suppress_env_files=True,
                quiet=True,
            )
    finally:
        for file in temp_files:
            file.unlink(missing_ok=True)
        _scrub_command_env(run_dir, own)
    duration = time.monotonic() - started
    status = str(runner.status)
    rc = int(runner.rc) if runner.rc is not None else -1
    hosts = {h: collector.stats[h] for h in sorted(collector.stats)}
    failures = [collector.last_failure[h] for h in hosts
                if (hosts[h]["failed"] or hosts[h]["unreachable"]) and h in collector.last_failure]
    message = ""
    if interrupt.cancelled() or status == "canceled":
        exit_code, status = EXIT_INTERRUPTED, "canceled"
        message = "interrupted: the run was cancelled"
    elif status == "successful" and rc == 0 and not failures and not any(
            s["failed"] or s["unreachable"] for s in hosts.values()):
        exit_code = EXIT_OK
    else:
        exit_code = EXIT_FAILED
        if not hosts:
            message = _stdout_tail(run_dir) or f"ansible-playbook ended with status {status}, rc {rc}"
    return RunResult(playbook=str(playbook.name), status=status, rc=rc, exit_code=exit_code,
                     artifacts_dir=str(run_dir), hosts=hosts, failures=failures, duration_s=duration,
                     message=message, warnings=list(collector.warnings)[:MAX_WARNINGS],
                     notes=list(collector.notes)[:MAX_WARNINGS])


def _extra_vars_chunks(extra_vars: ExtraVars | None) -> list[Mapping[str, Any] | Path]:
    """Extra vars in command-line order: mappings go to 0600 temp files, Paths (the user's own
    `-e @file`, e.g. with !vault values) are passed as they are."""
    if not extra_vars:
        return []
    if isinstance(extra_vars, Mapping):
        return [extra_vars]
    return [item for item in extra_vars if isinstance(item, Path) or item]


def user_ansible_cfg() -> Path | None:
    """The ansible.cfg Ansible itself would use when run from here: ANSIBLE_CONFIG, ./ansible.cfg
    (unless the directory is world-writable), ~/.ansible.cfg, /etc/ansible/ansible.cfg; first
    readable one wins (ansible-core's config.manager.find_ini_config_file), else None."""
    from ansible.config.manager import find_ini_config_file

    found = find_ini_config_file()
    return Path(found).resolve() if found else None


def ansible_config_env(content: paths.ContentPaths) -> dict[str, str]:
    """The Ansible settings of a run, as environment variables (all config in one place).

    A user's ansible.cfg in force (`user_ansible_cfg`) stays in force, given by absolute path
    because ansible-playbook runs in the content root, whose own ansible.cfg would otherwise win:
    remote_user, private_key_file, [privilege_escalation], forks, ssh settings, callbacks ... are
    the user's. Without one, the project's ansible.cfg applies. On top, only what the project
    needs: its roles first on the roles path (the user's roles_path after them), its collection
    first on the collections path (the user's collections_path after it), the inventory
    plugins the validation used (inventory_sources), no colour codes in the captured output, and
    host key checking as configured (ansible-runner would turn it off when the variable is unset).
    """
    user_cfg = user_ansible_cfg()
    config = user_cfg or content.ansible_cfg
    settings = _config_values(config, ("DEFAULT_ROLES_PATH", "HOST_KEY_CHECKING", "DEFAULT_CALLBACK_PLUGIN_PATH",
                                       "DEFAULT_STDOUT_CALLBACK", "COLLECTIONS_PATHS"))
    roles = [str(content.roles)]
    roles += [str(p) for p in settings.get("DEFAULT_ROLES_PATH") or () if user_cfg and str(p) not in roles]
    # The collection the CLI drives comes first (its filters are called by FQCN), whatever else
    # the user's collections_path holds: the checkout (./ansible_collections/openshell_auto/cluster
    # links back to the root) or the wheel's site-packages/ansible_collections/openshell_auto/cluster.
    collections = [str(content.collections_root)]
    collections += [str(p) for p in settings.get("COLLECTIONS_PATHS") or () if user_cfg and str(p) not in collections]
    from openshell_auto.inventory_sources import inventory_enabled_env

    env = {
        "ANSIBLE_CONFIG": str(config),
        "ANSIBLE_ROLES_PATH": os.pathsep.join(roles),
        "ANSIBLE_COLLECTIONS_PATH": os.pathsep.join(collections),
        "ANSIBLE_INVENTORY_ENABLED": inventory_enabled_env(),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_HOST_KEY_CHECKING": str(bool(settings.get("HOST_KEY_CHECKING", True))),
    }
    if user_cfg:
        # ansible-runner sets its own callback path and stdout callback through the environment,
        # which would hide the user's ini settings: hand them over the same way (it appends its
        # callback directory and wraps the stdout callback named here).
        callback_paths = [str(p) for p in settings.get("DEFAULT_CALLBACK_PLUGIN_PATH") or ()]
        if callback_paths:
            env["ANSIBLE_CALLBACK_PLUGINS"] = os.pathsep.join(callback_paths)
        stdout_callback = settings.get("DEFAULT_STDOUT_CALLBACK")
        if stdout_callback and stdout_callback not in ("default", "ansible.builtin.default"):
            env["ANSIBLE_STDOUT_CALLBACK"] = str(stdout_callback)
    return env


def config_prompts(content: paths.ContentPaths) -> set[str]:
    """The passwords the config in force (ansible.cfg or ANSIBLE_* variables) asks for at start:
    "connection" (ask_pass), "become" (become_ask_pass), "vault" (ask_vault_pass). The CLI asks
    for them itself (ansible-playbook runs without a terminal under ansible-runner)."""
    names = {"DEFAULT_ASK_PASS": "connection", "DEFAULT_BECOME_ASK_PASS": "become", "DEFAULT_ASK_VAULT_PASS": "vault"}
    values = _config_values(user_ansible_cfg() or content.ansible_cfg, tuple(names))
    return {names[name] for name, value in values.items() if value is True}


def _config_manager(config: str) -> Any:
    """One ConfigManager per ansible.cfg (as it is on disk now) and process: building one reads
    ansible-core's whole settings definition (base.yml); values are looked up, with the
    environment, at each get."""
    try:
        stat = os.stat(config)
        version = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
    except OSError:
        version = None
    return _config_manager_of(config, version)


@functools.lru_cache(maxsize=4)
def _config_manager_of(config: str, version: Any) -> Any:  # noqa: ARG001 - `version` keys the cache
    from ansible.config.manager import ConfigManager

    return ConfigManager(conf_file=config)


def _config_values(config: Path, names: Sequence[str]) -> dict[str, Any]:
    """Settings that ansible.cfg `config` or the caller's ANSIBLE_* environment set (Ansible's
    defaults left out: ansible-playbook applies them itself)."""
    manager = _config_manager(str(config))
    values: dict[str, Any] = {}
    for name in names:
        try:
            value, origin = manager.get_config_value_and_origin(name)
        except Exception:  # noqa: BLE001, S112 - a broken setting is ansible-playbook's to report
            continue
        if origin != "default":
            values[name] = value
    return values


def _envvars(content: paths.ContentPaths) -> dict[str, str]:
    env = ansible_config_env(content)
    # ansible-playbook beside this interpreter first (a venv that is not activated).
    import sys

    bin_dir = Path(sys.executable).parent
    if (bin_dir / "ansible-playbook").is_file():
        env["PATH"] = os.pathsep.join([str(bin_dir), os.environ.get("PATH", os.defpath)])
    return env


def _scrub_when_running(run_dir: Path, own: Mapping[str, str], status: Mapping[str, Any],
                        runner_config: Any = None) -> None:  # noqa: ARG001 - ansible-runner's signature
    """ansible-runner's status handler: scrub artifacts/command once the run is "running"."""
    if status.get("status") == "running":
        _scrub_command_env(run_dir, own)


def _scrub_command_env(run_dir: Path, own: Mapping[str, str]) -> None:
    """ansible-runner records the whole process environment in artifacts/command. Keep only what
    explains the run: the ANSIBLE_*/RUNNER_* settings this module passed (`own`) and those
    ansible-runner itself added. A variable of the caller's shell (ANSIBLE_BECOME_PASS, a key
    passphrase, a token) is dropped, whatever its name."""
    command = run_dir / "command"
    if not command.is_file():
        return
    try:
        data = json.loads(command.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    env = data.get("env")
    if isinstance(env, dict):
        data["env"] = {k: v for k, v in env.items()
                       if k.startswith(("ANSIBLE_", "RUNNER_")) and (k in own or os.environ.get(k) != v)}
        command.write_text(json.dumps(data), encoding="utf-8")


def _quote(arg: str) -> str:
    import shlex

    return shlex.quote(arg)


def _stdout_tail(run_dir: Path, lines: int = 8) -> str:
    stdout = run_dir / "stdout"
    if not stdout.is_file():
        return ""
    text = [line for line in stdout.read_text(encoding="utf-8", errors="replace").splitlines() if line.strip()]
    return " | ".join(text[-lines:])

