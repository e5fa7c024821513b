"""CDI (Container Device Interface) spec rules (cncf-tags/container-device-interface v1.1.0).

Used by pytest, by the `nvidia_cdi` role (through its filter plugin, on the controller) and by
the doctor. Pure Python on parsed data, so callers decide how to read files. Every problem is one
string that names the file, the field and the fix.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

VALID_CDI_VERSIONS: tuple[str, ...] = (
    "0.3.0", "0.4.0", "0.5.0", "0.6.0", "0.7.0", "0.8.0", "1.0.0", "1.1.0",
)
# vendor and class: letters, digits, '.', '-', '_'; start with a letter, end with a letter/digit.
_VENDOR_CLASS_RE = re.compile(r"^[A-Za-z](?:[A-Za-z0-9._-]*[A-Za-z0-9])?$")
# device name: letters, digits, '-', '_', '.', ':'; start and end with a letter or digit.
_DEVICE_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9_.:-]*[A-Za-z0-9])?$")
HOOK_NAMES = frozenset(
    {"prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"}
)
DEFAULT_KIND = "nvidia.com/gpu"


def valid_vendor(name: str) -> bool:
    return bool(_VENDOR_CLASS_RE.match(name))


def valid_class(name: str) -> bool:
    return bool(_VENDOR_CLASS_RE.match(name))


def valid_device_name(name: str) -> bool:
    return bool(_DEVICE_RE.match(name))


def parse_qualified_name(name: str) -> tuple[str, str, str] | None:
    """Split `vendor/class=device`; None when the syntax is wrong."""
    kind, sep, device = name.partition("=")
    vendor, slash, klass = kind.partition("/")
    if not sep or not slash:
        return None
    if not (valid_vendor(vendor) and valid_class(klass) and valid_device_name(device)):
        return None
    return vendor, klass, device


def listed_names(lines: Iterable[str]) -> list[str]:
    """The fully qualified device names (`vendor/class=device`) in `nvidia-ctk cdi list` output;
    its log lines ("level=info msg=...") and anything else are left out."""
    return [line.strip() for line in lines if parse_qualified_name(line.strip()) is not None]


def _check_edits(edits: Any, where: str, source: str) -> list[str]:
    problems: list[str] = []
    if not isinstance(edits, Mapping):
        return [f"{source}: {where} must be a mapping (got {type(edits).__name__})"]
    for i, env in enumerate(edits.get("env") or []):
        if not isinstance(env, str) or "=" not in env:
            problems.append(f"{source}: {where}.env[{i}] must be a 'NAME=value' string (got {env!r})")
    for i, node in enumerate(edits.get("deviceNodes") or []):
        path = node.get("path") if isinstance(node, Mapping) else None
        if not isinstance(path, str) or not path.startswith("/"):
            problems.append(f"{source}: {where}.deviceNodes[{i}].path is required and must be absolute (got {path!r})")
    for i, hook in enumerate(edits.get("hooks") or []):
        if not isinstance(hook, Mapping):
            problems.append(f"{source}: {where}.hooks[{i}] must be a mapping")
            continue
        if hook.get("hookName") not in HOOK_NAMES:
            problems.append(
                f"{source}: {where}.hooks[{i}].hookName {hook.get('hookName')!r} is not one of "
                f"{', '.join(sorted(HOOK_NAMES))}"
            )
        if not isinstance(hook.get("path"), str) or not hook["path"].startswith("/"):
            problems.append(f"{source}: {where}.hooks[{i}].path is required and must be absolute")
    for i, mount in enumerate(edits.get("mounts") or []):
        if not isinstance(mount, Mapping) or not mount.get("hostPath") or not mount.get("containerPath"):
            problems.append(f"{source}: {where}.mounts[{i}] needs hostPath and containerPath")
    return problems


def validate_spec(spec: Any, source: str = "<spec>") -> list[str]:
    """Problems of one parsed CDI spec (required fields, cdiVersion, name syntax, duplicates)."""
    if not isinstance(spec, Mapping):
        return [f"{source}: a CDI spec must be a mapping with cdiVersion, kind and devices"]
    problems: list[str] = []
    version = spec.get("cdiVersion")
    if version is None:
        problems.append(f"{source}: field 'cdiVersion' is missing; set one of {', '.join(VALID_CDI_VERSIONS)}")
    elif str(version) not in VALID_CDI_VERSIONS:
        problems.append(
            f"{source}: cdiVersion {version!r} is not valid; use one of {', '.join(VALID_CDI_VERSIONS)}"
        )
    kind = spec.get("kind")
    if not isinstance(kind, str) or not kind:
        problems.append(f"{source}: field 'kind' is missing; it must read vendor/class, e.g. nvidia.com/gpu")
    else:
        vendor, slash, klass = kind.partition("/")
        if not slash:
            problems.append(f"{source}: kind {kind!r} must read vendor/class, e.g. nvidia.com/gpu")
        else:
            if not valid_vendor(vendor):
                problems.append(
                    f"{source}: kind {kind!r}: vendor {vendor!r} must start with a letter, end with a letter "
                    "or digit and contain only letters, digits, '.', '-', '_'"
                )
            if not valid_class(klass):
                problems.append(
                    f"{source}: kind {kind!r}: class {klass!r} must start with a letter, end with a letter "
                    "or digit and contain only letters, digits, '.', '-', '_'"
                )
    devices = spec.get("devices")
    if not isinstance(devices, list) or not devices:
        problems.append(f"{source}: field 'devices' is missing or empty; a spec must define at least one device")
        devices = []
    seen: set[str] = set()
    for i, device in enumerate(devices):
        if not isinstance(device, Mapping):
            problems.append(f"{source}: devices[{i}] must be a mapping with name and containerEdits")
            continue
        name = device.get("name")
        name = str(name) if isinstance(name, (str, int)) and not isinstance(name, bool) else None
        if name is None:
            problems.append(f"{source}: devices[{i}].name is missing")
        elif not valid_device_name(name):
            problems.append(
                f"{source}: devices[{i}].name {name!r} must start and end with a letter or digit and contain "
                "only letters, digits, '-', '_', '.', ':'"
            )
        elif name in seen:
            problems.append(f"{source}: device name {name!r} is defined twice in this spec")
        else:
            seen.add(name)
        if "containerEdits" not in device:
            problems.append(f"{source}: devices[{i}] ({name}) has no containerEdits")
        else:
            problems.extend(_check_edits(device["containerEdits"], f"devices[{i}].containerEdits", source))
    if "containerEdits" in spec:
        problems.extend(_check_edits(spec["containerEdits"], "containerEdits", source))
    return problems


def qualified_names(spec: Any) -> list[str]:
    """`vendor/class=name` for each device of a (possibly invalid) spec."""
    if not isinstance(spec, Mapping) or not isinstance(spec.get("kind"), str):
        return []
    names = []
    for device in spec.get("devices") or []:
        if isinstance(device, Mapping) and device.get("name") is not None:
            names.append(f"{spec['kind']}={device['name']}")
    return names


def duplicate_names(specs: Iterable[tuple[str, Any]]) -> list[str]:
    """Names defined more than once across the specs of ONE directory (same priority)."""
    where: dict[str, list[str]] = {}
    for source, spec in specs:
        for name in dict.fromkeys(qualified_names(spec)):
            where.setdefault(name, []).append(source)
    return [
        f"{name} is defined in {len(files)} specs of {os.path.dirname(files[0]) or '.'}: {', '.join(files)}; "
        "remove the extra spec (the same device twice at one priority is an error)"
        for name, files in sorted(where.items())
        if len(files) > 1
    ]


# Platforms as the nvidia_container_toolkit preflight names them (nvidia_container_toolkit_platform),
# i.e. the `nvidia-ctk cdi generate` mode that `--mode auto` picks there.
PLATFORMS: tuple[str, ...] = ("nvml", "wsl", "tegra-csv")


def required_names(
    gpu_count: int, strategy: str = "index", kind: str = DEFAULT_KIND, platform: str = "nvml"
) -> list[str]:
    """Names `nvidia-ctk cdi list` must show after `nvidia-ctk cdi generate` on this platform.

    What each mode writes (NVIDIA/nvidia-container-toolkit v1.18.2, pkg/nvcdi/):
    - nvml (lib-nvml.go): one device per GPU and name strategy (index: 0..N-1), plus `all`;
    - wsl (lib-wsl.go): a single device named `all` (holding /dev/dxg), whatever the strategy;
    - tegra-csv (lib-csv.go): one device, index 0 (uuid names are skipped), plus `all`.
    """
    if platform not in PLATFORMS:
        raise ValueError(f"platform {platform!r} is not one of {', '.join(PLATFORMS)}")
    if platform == "wsl":
        return [f"{kind}=all"]
    if strategy == "index":
        count = 1 if platform == "tegra-csv" else gpu_count
        return [f"{kind}={i}" for i in range(count)] + [f"{kind}=all"]
    return [f"{kind}=all"]


def missing_names(
    listed: Iterable[str], gpu_count: int, strategy: str = "index", kind: str = DEFAULT_KIND, platform: str = "nvml"
) -> list[str]:
    """What `nvidia-ctk cdi list` lacks for `gpu_count` GPUs under the strategy on this platform."""
    present = {line.strip() for line in listed}
    missing = [name for name in required_names(gpu_count, strategy, kind, platform) if name not in present]
    if strategy == "uuid" and platform == "nvml":
        uuids = [n for n in present if n.startswith(f"{kind}=GPU-")]
        if len(uuids) < gpu_count:
            missing.append(f"{gpu_count - len(uuids)} of {gpu_count} {kind}=GPU-<uuid> names")
    return missing


def check_host(
    spec_files: Sequence[tuple[str, Any]],
    listed: Iterable[str],
    gpu_count: int,
    strategy: str = "index",
    kind: str = DEFAULT_KIND,
    platform: str = "nvml",
) -> list[str]:
    """All problems for a host: each spec's rules, duplicates per directory, missing names."""
    problems: list[str] = []
    by_dir: dict[str, list[tuple[str, Any]]] = {}
    for source, spec in spec_files:
        problems.extend(validate_spec(spec, source))
        by_dir.setdefault(os.path.dirname(source), []).append((source, spec))
    for specs in by_dir.values():
        problems.extend(duplicate_names(specs))
    problems.extend(f"nvidia-ctk cdi list does not show {name}" for name in missing_names(listed, gpu_count, strategy, kind, platform))
    return problems


def load_spec_text(text: str) -> Any:
    """Parse a spec file's text (YAML or JSON)."""
    import yaml  # PyYAML: a dependency of ansible-core

    return yaml.safe_load(text)
