#!/usr/bin/env python3
"""Write an OpenPGP key as a binary keyring (what apt's signed-by wants in a .gpg file).

Usage: dearmor.py SOURCE DEST. SOURCE may be ASCII-armored (-----BEGIN PGP PUBLIC KEY BLOCK-----)
or already binary. Like `gpg --dearmor`, without needing gpg on the host. Exit 2 on bad input.
"""
import base64
import os
import sys


def dearmor(data: bytes) -> bytes:
    text = data.decode("ascii", errors="strict")
    lines = text.replace("\r", "").split("\n")
    try:
        start = next(i for i, line in enumerate(lines) if line.startswith("-----BEGIN PGP PUBLIC KEY BLOCK"))
        end = next(i for i, line in enumerate(lines) if line.startswith("-----END PGP PUBLIC KEY BLOCK"))
    except StopIteration:
        raise ValueError("no PGP PUBLIC KEY BLOCK in the file") from None
    body = lines[start + 1:end]
    if "" in body:  # armor headers end at the first empty line
        body = body[body.index("") + 1:]
    body = [line for line in body if line and not line.startswith("=")]  # drop the CRC24 line
    return base64.b64decode("".join(body), validate=True)


def main() -> int:
    if len(sys.argv) != 3:
        print("usage: dearmor.py SOURCE DEST", file=sys.stderr)
        return 2
    with open(sys.argv[1], "rb") as fh:
        data = fh.read()
    try:
        binary = data if data[:1] and data[0] & 0x80 else dearmor(data)
    except (ValueError, UnicodeDecodeError) as exc:
        print(f"dearmor.py: {sys.argv[1]} is not an OpenPGP public key: {exc}; "
              "check nvidia_container_toolkit_gpg_key_url / nvidia_container_toolkit_gpg_key_src", file=sys.stderr)
        return 2
    tmp = sys.argv[2] + ".tmp"
    with open(tmp, "wb") as fh:
        fh.write(binary)
    os.chmod(tmp, 0o644)
    os.replace(tmp, sys.argv[2])
    return 0


if __name__ == "__main__":
    sys.exit(main())
