"""Air-gap inputs checked on the controller: one procedure for every controller-side file the roles
copy or embed (k3s binary and images archive, the k3s sums file, the toolkit's signing key, the
device-plugin chart and image archives).

Each role describes its inputs for a host as entries (dicts, built in the role's vars/main.yml):

    var        the variable that names the file (k3s_images_src)
    path       its value ('' = not set: no entry)
    what       what the file is, for messages ("the images archive of release v1.35.2+k3s1")
    unset      text after `or set VAR to ""` ('' = say nothing more; None = no such advice)
    redo       what to do on a sum mismatch ("download the images archive of release ... again")
    use        "copied" or "used" (the warning about an archive without a sum)
    done       last words of a refusal ("Nothing was copied.")
    sum_var / sum              a sha256 the inventory gives ("sha256:<hex>" or the hex alone)
    sums_var / sums_file / sums_name / sums_what
                               a sha256sum-style file and the file name whose line gives the sum
    sum_required               True: no sum at all is a refusal (the k3s binary), else a warning
    host                       the inventory host (added by the shared task file)

The shared task file (roles/openshell/tasks/verify_inputs.yml) looks each distinct path up once
(`lookups`), hashes a file only where some entry has a sum for it, then `verdict` refuses a
mismatch by variable name, per host, warns once about an archive without a sum, and returns the
keys of what was checked so that later plays of the same run skip it (`pending`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ansible_collections.openshell_auto.cluster.plugins.module_utils.checksum import checksum_problem, sha256_hex

def sums_line(text: str, name: str) -> str:
    """The sha256 (lower case) that a sha256sum-style text lists for file `name`, or ''.

    Lines are `<64 hex>  <name>` or `<64 hex> *<name>` (binary mode), as sha256sum writes them and
    as k3s releases publish sha256sum-<arch>.txt."""
    for line in str(text).splitlines():
        parts = line.split(None, 1)
        if len(parts) == 2 and sha256_hex(parts[0], prefix=False) and parts[1].strip().lstrip("*") == name:
            return sha256_hex(parts[0], prefix=False)
    return ""


def key(entry: Mapping[str, Any]) -> str:
    """What identifies one check: the same file with the same sum source is checked once a run."""
    return "\0".join(str(entry.get(field) or "") for field in ("var", "path", "sum", "sums_file", "sums_name"))


def pending(entries: Iterable[Mapping[str, Any]], checked: Iterable[str]) -> list[Mapping[str, Any]]:
    """The entries with a path that were not checked earlier in this run."""
    done = set(checked or [])
    return [e for e in entries or [] if e.get("path") and key(e) not in done]


def lookups(entries: Iterable[Mapping[str, Any]], checked: Iterable[str]) -> list[dict[str, Any]]:
    """Each distinct path to look up once: [{path, checksum}], checksum True when some entry
    compares the file with a sum (sums files themselves are only looked up)."""
    wanted: dict[str, bool] = {}
    for entry in pending(entries, checked):
        hashed = bool(entry.get("sum") or entry.get("sums_file"))
        wanted[entry["path"]] = wanted.get(entry["path"], False) or hashed
        if entry.get("sums_file"):
            wanted.setdefault(entry["sums_file"], False)
    return [{"path": path, "checksum": checksum} for path, checksum in wanted.items()]


def sums_files(entries: Iterable[Mapping[str, Any]], checked: Iterable[str],
               stat_results: Iterable[Mapping[str, Any]]) -> list[str]:
    """The sums files that the pending entries read and that are regular files (safe to read)."""
    stats = _stats(stat_results)
    names = {e["sums_file"] for e in pending(entries, checked) if e.get("sums_file")}
    return sorted(path for path in names if stats.get(path, {}).get("isreg"))


def _stats(stat_results: Iterable[Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    found: dict[str, Mapping[str, Any]] = {}
    for result in stat_results or []:
        item = result.get("item") or {}
        if isinstance(item, Mapping) and "stat" in result:
            found[str(item.get("path"))] = result["stat"]
    return found


def _missing(var: str, path: str, stat: Mapping[str, Any], what: str, unset: str | None, done: str) -> str:
    state = "is not a regular file" if stat.get("exists") else "does not exist"
    advice = f" or set {var} to \"\"{unset}" if unset is not None else ""
    return f"{var} {path} {state} on the controller: fix the path ({what}, on the machine that runs " \
           f"ansible-playbook){advice}. {done}"


def _check(entry: Mapping[str, Any], stats: Mapping[str, Mapping[str, Any]],
           texts: Mapping[str, str]) -> tuple[list[str], str | None]:
    """(refusals, warning) for one entry."""
    var, path = str(entry["var"]), str(entry["path"])
    done = str(entry.get("done") or "Nothing was copied.")
    sum_var, given = str(entry.get("sum_var") or ""), str(entry.get("sum") or "")
    if problem := checksum_problem(given, "sha256"):
        return [f"{sum_var}: {problem} (it is the sha256 of {entry.get('what')}). {done}"], None
    stat = stats.get(path, {})
    if not (stat.get("exists") and stat.get("isreg")):
        return [_missing(var, path, stat, str(entry.get("what")), entry.get("unset"), done)], None
    sums_var, sums_file = str(entry.get("sums_var") or ""), str(entry.get("sums_file") or "")
    sums_name = str(entry.get("sums_name") or "")
    expected, origin, origin_var = "", "", ""
    if given:
        expected, origin, origin_var = sha256_hex(given), sum_var, sum_var
    elif sums_file:
        sums_stat = stats.get(sums_file, {})
        if not (sums_stat.get("exists") and sums_stat.get("isreg")):
            return [_missing(sums_var, sums_file, sums_stat, str(entry.get("sums_what")), None, done)], None
        expected = sums_line(texts.get(sums_file, ""), sums_name)
        origin, origin_var = f"{sums_var} {sums_file} (line for {sums_name})", sums_var
    if not expected:
        if entry.get("sum_required"):
            if sums_file:
                return [f"{sums_var} {sums_file} has no line '<sha256>  {sums_name}'. "
                        f"Use {entry.get('sums_what')}."], None
            return [f"{var} {path} needs {sums_var} ({entry.get('sums_what')}): set it."], None
        reason = (f": {sums_var} {sums_file} has no line for {sums_name} and {sum_var} is empty"
                  if sums_file else (f": {sums_var} is empty and {sum_var} is empty" if sums_var else ""))
        return [], (f"WARNING: {var} {path} is {entry.get('use') or 'copied'} without a checksum check{reason}. "
                    f"Set {sum_var} to its sha256 to verify it.")
    got = str(stat.get("checksum") or "")
    if got != expected:
        return [f"{var} {path} has sha256 {got} but {origin} expects {expected}: {entry.get('redo')} "
                f"(or correct {origin_var}). {done}"], None
    return [], None


def verdict(entries: Iterable[Mapping[str, Any]], checked: Iterable[str],
            stat_results: Iterable[Mapping[str, Any]], texts: Mapping[str, str]) -> dict[str, Any]:
    """{problems: {host: [refusals]}, warnings: [once per file], checked: [keys now checked]}."""
    stats = _stats(stat_results)
    problems: dict[str, list[str]] = {}
    warnings: list[str] = []
    newly: list[str] = []
    for entry in pending(entries, checked):
        refusals, warning = _check(entry, stats, dict(texts or {}))
        host = str(entry.get("host") or "")
        for refusal in refusals:
            if refusal not in problems.setdefault(host, []):
                problems[host].append(refusal)
        if warning and warning not in warnings:
            warnings.append(warning)
        if not refusals and key(entry) not in newly:
            newly.append(key(entry))
    return {"problems": problems, "warnings": warnings, "checked": list(checked or []) + newly}
