"""Downloads for `openshell-auto bundle`: every file is written under a temporary name in its
destination directory, hashed while it streams, and renamed into place only after its sha256
matched; a mismatch, an HTTP error or an interrupted transfer leaves no file behind.

urllib.request (standard library) does the HTTP; proxies come from the usual environment
variables (HTTPS_PROXY, NO_PROXY ...), which urllib reads itself."""

from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from openshell_auto.errors import FetchError

CHUNK = 1 << 20
TIMEOUT_S = 60


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _open(url: str) -> object:
    scheme = urllib.parse.urlsplit(url).scheme
    if scheme not in ("http", "https"):
        raise FetchError(f"{url}: only http and https URLs are fetched; fix the URL variable")
    try:
        return urllib.request.urlopen(url, timeout=TIMEOUT_S)  # noqa: S310 (scheme checked above)
    except urllib.error.HTTPError as exc:
        raise FetchError(f"{url}: HTTP {exc.code} {exc.reason}; the file is missing there "
                         "(check the pinned version and the URL variable)") from exc
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise FetchError(f"{url}: cannot be fetched ({reason}); check the URL and the network") from exc


def fetch_bytes(url: str, limit: int = 256 << 20) -> bytes:
    """A small file (an index, a sums file) in memory."""
    response = _open(url)
    try:
        data: bytes = response.read(limit + 1)  # type: ignore[attr-defined]
    except OSError as exc:
        raise FetchError(f"{url}: the transfer broke off ({exc}); run the command again") from exc
    finally:
        response.close()  # type: ignore[attr-defined]
    if len(data) > limit:
        raise FetchError(f"{url}: larger than {limit} bytes; this is not the index it should be")
    return data


def fetch_file(url: str, dest: Path, sha256: str | None, what: str) -> bool:
    """Download `url` to `dest`; with `sha256`, the file must hash to it (hex, lower case).

    An existing `dest` with that sha256 is kept (returns False: nothing fetched). Returns True when
    the file was written. Raises FetchError naming the file, the URL and both sums on a mismatch."""
    expected = sha256.lower() if sha256 else None
    if expected and dest.is_file() and sha256_file(dest) == expected:
        return False
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    tmp = Path(tmp_name)
    try:
        digest = hashlib.sha256()
        with os.fdopen(fd, "wb") as out:
            response = _open(url)
            try:
                for chunk in iter(lambda: response.read(CHUNK), b""):  # type: ignore[attr-defined]
                    digest.update(chunk)
                    out.write(chunk)
            except OSError as exc:
                raise FetchError(f"{url}: the transfer of {what} broke off ({exc}); run the command again") from exc
            finally:
                response.close()  # type: ignore[attr-defined]
        actual = digest.hexdigest()
        if expected and actual != expected:
            raise FetchError(f"{what} {dest.name} from {url}: sha256 mismatch: expected {expected}, got {actual}; "
                             "nothing was written (a corrupt download, a tampered mirror, or a sums file of "
                             "another release)")
        os.chmod(tmp, 0o644)
        os.replace(tmp, dest)
        return True
    finally:
        tmp.unlink(missing_ok=True)


def write_atomic(dest: Path, data: bytes) -> None:
    """Write `data` to `dest` through a temporary file in the same directory and a rename."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.chmod(tmp_name, 0o644)
        os.replace(tmp_name, dest)
    finally:
        Path(tmp_name).unlink(missing_ok=True)
