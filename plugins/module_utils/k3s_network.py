"""How k3s reaches image registries: HTTP proxies and registries.yaml. One function per rule,
used by the CLI's inventory check (exit 2 before anything runs) and by the k3s role's filters.

Proxies: k3s's unit reads `EnvironmentFile=-/etc/default/%N` (k3s-io/k3s install.sh,
create_systemd_service_file); the role writes HTTP_PROXY / HTTPS_PROXY / NO_PROXY there. k3s passes
them to its embedded containerd and the kubelet (docs.k3s.io, "Configuring an HTTP proxy"). The
NO_PROXY value itself is built in the role (roles/k3s/vars/main.yml, __k3s_no_proxy_value) so that
`render` shows it with Ansible's own filters; this module checks the user's entries.

registries.yaml: `/etc/rancher/k3s/registries.yaml`, read by k3s at start (docs.k3s.io,
"Private Registry Configuration"): `mirrors.<registry>.endpoint` (list of URLs, `*` matches every
registry), `mirrors.<registry>.rewrite` (regex -> replacement), `configs.<host[:port]>.auth`
(username, password, auth, identitytoken) and `.tls` (cert_file, key_file, ca_file,
insecure_skip_verify). Keys as rancher/wharfie pkg/registries/registries.go reads them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from ansible_collections.openshell_auto.cluster.plugins.module_utils.hostile import line_value_problem, shown

_PROXY_SCHEMES = ("http", "https", "socks5")
# What a URL may hold in a line of an environment file or registries.yaml (hostile's `url` syntax).
_URL_CHARS = re.compile(r"[A-Za-z0-9._/+:@,=~%?&!*-]+")
# One NO_PROXY entry: a host name, `.domain`, an IP address or CIDR, or `*` (Go's
# golang.org/x/net/http/httpproxy rules, which k3s, containerd and the kubelet use).
_NO_PROXY_ENTRY = re.compile(r"\*|\.?[A-Za-z0-9_.:-]+(/[0-9]{1,3})?")


def proxy_url_problem(value: Any) -> str | None:
    """k3s_http_proxy / k3s_https_proxy: empty, or scheme://[user:password@]host[:port][/]."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        return f"`{shown(value)}` is not a string; write the proxy URL, e.g. http://proxy.example.com:3128"
    if not _URL_CHARS.fullmatch(value):
        return f"`{_masked_url(value)}` holds characters the environment file cannot take (spaces, quotes, " \
               "newlines, `$`, `\\`, `#`, ...); percent-encode them (e.g. %40 for @ in a password)"
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in _PROXY_SCHEMES or not parts.hostname \
            or parts.path not in ("", "/") or parts.query or parts.fragment:
        return f"`{_masked_url(value)}` is not a proxy URL; write scheme://[user:password@]host[:port] with " \
               f"scheme {', '.join(_PROXY_SCHEMES)} (e.g. http://proxy.example.com:3128)"
    return None


def no_proxy_problem(value: Any) -> str | None:
    """k3s_no_proxy: a list of NO_PROXY entries (host, .domain, IP, CIDR); no commas or spaces."""
    if value is None:
        return None
    if not isinstance(value, list):
        return f"`{shown(value)}` is not a list; write a YAML list of hosts, .domains, addresses or CIDRs"
    for entry in value:
        if not isinstance(entry, str) or not _NO_PROXY_ENTRY.fullmatch(entry):
            return f"entry `{shown(entry)}` is not a host name, .domain, IP address or CIDR (no commas, spaces " \
                   "or newlines); give one entry per list item"
    return None


def _masked_url(value: str) -> str:
    """A proxy URL as a message may show it: the password replaced."""
    return shown(re.sub(r"(://[^:/@]*):[^@]*@", r"\1:***@", value))


# --------------------------------------------------------------------------- registries.yaml
MIRROR_KEYS = ("endpoint", "rewrite")
CONFIG_KEYS = ("auth", "tls")
AUTH_KEYS = ("username", "password", "auth", "identitytoken")
TLS_KEYS = ("cert_file", "key_file", "ca_file", "insecure_skip_verify")
_REGISTRY_HOST = re.compile(r"[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?(:[0-9]{1,5})?|\[[0-9A-Fa-f:]+\](:[0-9]{1,5})?")


def _registry_name_problem(name: Any, *, wildcard: bool) -> str | None:
    if wildcard and name == "*":
        return None
    if not isinstance(name, str) or not _REGISTRY_HOST.fullmatch(name):
        return f"`{shown(name)}` is not a registry host[:port]" + (" or `*`" if wildcard else "")
    return None


def _endpoint_problem(value: Any) -> str | None:
    if not isinstance(value, str) or not _URL_CHARS.fullmatch(value):
        return f"`{shown(value)}` is not a URL without spaces or quotes"
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        return f"`{shown(value)}` is not a URL"
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment \
            or parts.username or parts.password:
        return f"`{shown(value)}` is not an http(s)://host[:port][/path] URL (credentials go under configs.auth)"
    return None


def registries_problems(value: Any) -> list[str]:
    """Why k3s_registries cannot be written as k3s's registries.yaml; empty when it can."""
    if value is None or value == {}:
        return []
    if not isinstance(value, Mapping):
        return [f"`{shown(value)}` is not a mapping; write `mirrors:` and/or `configs:` under it"]
    problems = [f"key `{shown(key)}` is not part of registries.yaml; use mirrors and configs"
                for key in value if key not in ("mirrors", "configs")]
    mirrors = value.get("mirrors") or {}
    configs = value.get("configs") or {}
    if not isinstance(mirrors, Mapping):
        problems.append("mirrors is not a mapping; write `<registry>: {endpoint: [URL, ...]}` under it")
        mirrors = {}
    if not isinstance(configs, Mapping):
        problems.append("configs is not a mapping; write `<host[:port]>: {auth: ..., tls: ...}` under it")
        configs = {}
    for name, mirror in mirrors.items():
        where = f"mirrors.{shown(name)}"
        problem = _registry_name_problem(name, wildcard=True)
        if problem:
            problems.append(f"{where}: {problem}; name the registry whose pulls go to the mirror (e.g. docker.io)")
            continue
        if not isinstance(mirror, Mapping):
            problems.append(f"{where}: is not a mapping; write `endpoint: [URL, ...]` under it")
            continue
        problems += [f"{where}: key `{shown(k)}` is unknown; use {', '.join(MIRROR_KEYS)}"
                     for k in mirror if k not in MIRROR_KEYS]
        endpoints = mirror.get("endpoint", [])
        if not isinstance(endpoints, list):
            problems.append(f"{where}.endpoint: is not a list; write a YAML list of URLs")
        else:
            problems += [f"{where}.endpoint: {p}" for e in endpoints if (p := _endpoint_problem(e))]
        rewrite = mirror.get("rewrite", {})
        if not isinstance(rewrite, Mapping):
            problems.append(f"{where}.rewrite: is not a mapping; write `\"<regex>\": \"<replacement>\"` lines")
            continue
        for pattern, replacement in rewrite.items():
            if not isinstance(pattern, str) or not isinstance(replacement, str):
                problems.append(f"{where}.rewrite: `{shown(pattern)}` and its replacement must be strings")
                continue
            try:
                re.compile(pattern)
            except re.error as exc:
                problems.append(f"{where}.rewrite: `{shown(pattern)}` is not a regular expression ({exc}); fix it")
            if any(c in pattern + replacement for c in "\n\r\x00"):
                problems.append(f"{where}.rewrite: `{shown(pattern)}` holds a newline; remove it")
    for host, config in configs.items():
        where = f"configs.{shown(host)}"
        problem = _registry_name_problem(host, wildcard=True)
        if problem:
            problems.append(f"{where}: {problem}; name the endpoint host the settings apply to")
            continue
        if not isinstance(config, Mapping):
            problems.append(f"{where}: is not a mapping; write `auth:` and/or `tls:` under it")
            continue
        problems += [f"{where}: key `{shown(k)}` is unknown; use {', '.join(CONFIG_KEYS)}"
                     for k in config if k not in CONFIG_KEYS]
        problems += _auth_problems(where, config.get("auth"))
        problems += _tls_problems(where, config.get("tls"))
    return problems


def _auth_problems(where: str, auth: Any) -> list[str]:
    if auth is None:
        return []
    if not isinstance(auth, Mapping):
        return [f"{where}.auth: is not a mapping; write username/password (or auth, identitytoken) under it"]
    problems = [f"{where}.auth: key `{shown(k)}` is unknown; use {', '.join(AUTH_KEYS)}"
                for k in auth if k not in AUTH_KEYS]
    # The values are secrets: never echoed, only their type checked (a !vault value is a string).
    problems += [f"{where}.auth.{k}: is not a string; quote it" for k, v in auth.items()
                 if k in AUTH_KEYS and not isinstance(v, str)]
    return problems


def _tls_problems(where: str, tls: Any) -> list[str]:
    if tls is None:
        return []
    if not isinstance(tls, Mapping):
        return [f"{where}.tls: is not a mapping; write cert_file/key_file/ca_file/insecure_skip_verify under it"]
    problems = [f"{where}.tls: key `{shown(k)}` is unknown; use {', '.join(TLS_KEYS)}"
                for k in tls if k not in TLS_KEYS]
    for key in ("cert_file", "key_file", "ca_file"):
        path = tls.get(key)
        if path is not None and (not isinstance(path, str) or not path.startswith("/")
                                 or line_value_problem("k3s_data_dir", path)):
            problems.append(f"{where}.tls.{key}: `{shown(path)}` is not an absolute path on the host; set one")
    if "insecure_skip_verify" in tls and not isinstance(tls["insecure_skip_verify"], bool):
        problems.append(f"{where}.tls.insecure_skip_verify: `{shown(tls['insecure_skip_verify'])}` is not "
                        "true or false")
    if bool(tls.get("cert_file")) != bool(tls.get("key_file")):
        problems.append(f"{where}.tls: cert_file and key_file go together (k3s refuses one without the other); "
                        "set both or neither")
    return problems
