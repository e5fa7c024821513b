"""The checksum rule, in one place: what a checksum variable of the inventory may hold, and the
sha256 in it. Used by the CLI's inventory checks (openshell_auto.inventory_checks), the air-gap
input check of the roles (module_utils.airgap, through the openshell_airgap filters) and the
bundle command (openshell_auto.bundle).

Two kinds of variable:
  sha256    the roles hash the file themselves with sha256 (k3s_images_checksum, the device
            plugin's chart and image checksums): "sha256:<64 hex digits>" or the 64 hex digits alone.
  get_url   passed to ansible.builtin.get_url `checksum:` as is (nvidia_container_toolkit_gpg_key_checksum):
            "<algorithm>:<hex digest of that algorithm's length>" or "<algorithm>:<http(s) URL of a
            checksums file>" (ansible/ansible lib/ansible/modules/get_url.py, `checksum` option).

A problem is one line: the value (escaped, shortened), what is wrong and the fix; the caller puts
the variable's name (and file, host) in front. No ansible import here."""

from __future__ import annotations

import hashlib
import re
from typing import Literal

Kind = Literal["sha256", "get_url"]
DIGEST_LENGTHS = {"md5": 32, "sha1": 40, "sha224": 56, "sha256": 64, "sha384": 96, "sha512": 128}
_SHA256 = re.compile(r"(sha256:)?(?P<hex>[0-9a-fA-F]{64})")
_SHOWN = 140  # a sha512 with its prefix fits


def sha256_hex(value: str, prefix: bool = True) -> str:
    """The 64 hex digits (lower case) of a sha256 written as "sha256:<64 hex>" or "<64 hex>" (only
    the latter when prefix is False, as in a sha256sum line); '' when the value is no sha256."""
    match = _SHA256.fullmatch(str(value))
    if match is None or (match.group(1) and not prefix):
        return ""
    return match.group("hex").lower()


def _quoted(value: str) -> str:
    text = str(value).encode("unicode_escape").decode("ascii")
    return f"'{text if len(text) <= _SHOWN else text[:_SHOWN - 3] + '...'}'"


def _get_url_reason(value: str) -> str | None:
    algorithm, sep, digest = value.partition(":")
    if not sep or algorithm not in DIGEST_LENGTHS and algorithm not in hashlib.algorithms_available:
        return "it does not start with a hash algorithm"
    if digest.startswith(("http://", "https://")):
        return None
    if algorithm not in DIGEST_LENGTHS:
        return None if re.fullmatch(r"[0-9a-fA-F]+", digest) else "its digest is not hex digits"
    if not re.fullmatch(rf"[0-9a-fA-F]{{{DIGEST_LENGTHS[algorithm]}}}", digest):
        return f"the {algorithm} digest is not {DIGEST_LENGTHS[algorithm]} hex digits"
    return None


def checksum_problem(value: object, kind: Kind = "sha256") -> str | None:
    """None when `value` is empty (no checksum) or a checksum of `kind`; else the problem and the fix."""
    if value is None or value == "":
        return None
    text = str(value)
    if kind == "sha256":
        if not isinstance(value, str) or not sha256_hex(text):
            return f"{_quoted(text)} is not a sha256; set it to \"sha256:<64 hex digits>\" or the 64 hex digits " \
                   "alone (`sha256sum FILE` of a trusted copy), or leave it empty"
        return None
    if kind != "get_url":
        raise ValueError(f"checksum kind {kind!r}: use sha256 or get_url")
    reason = "it is not a string" if not isinstance(value, str) else _get_url_reason(text)
    if reason is None:
        return None
    return f"{_quoted(text)} is not a get_url checksum ({reason}); use \"<algorithm>:<hex digest>\" e.g. " \
           "sha256:<64 hex digits> (`sha256sum FILE` of a trusted copy) or sha512:<128 hex digits>, or " \
           "\"<algorithm>:<https URL of a checksums file>\", as ansible.builtin.get_url takes, or leave it empty"
