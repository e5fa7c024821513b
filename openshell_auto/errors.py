"""Errors the CLI turns into exit codes (2: bad input, nothing was run)."""

from __future__ import annotations

from collections.abc import Iterable

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130


MAX_MESSAGE = 700  # characters of one message line


def one_line(message: str) -> str:
    """A message as one line: control characters written as escapes (a value's newline shows as
    \\n), and a huge echoed value cut in the middle."""
    text = "".join(c if c.isprintable() or c == " " else repr(c)[1:-1] for c in str(message))
    if len(text) > MAX_MESSAGE:
        text = text[:MAX_MESSAGE - 200] + " ... " + text[-195:]
    return text


class InputError(Exception):
    """Bad user input found before anything ran. The CLI prints each message and exits 2.

    Every message is one line naming the file, the host or group, the field and the fix.
    """

    exit_code = EXIT_BAD_INPUT

    def __init__(self, messages: str | Iterable[str]) -> None:
        self.messages: list[str] = [one_line(m) for m in ([messages] if isinstance(messages, str) else messages)]
        if not self.messages:
            raise ValueError("InputError needs at least one message")
        super().__init__("\n".join(self.messages))


class RenderError(Exception):
    """A registered template failed to render (a role or registry bug, or a value the role
    rejects). The CLI prints each message and exits 1."""

    exit_code = EXIT_FAILED

    def __init__(self, messages: Iterable[str]) -> None:
        self.messages: list[str] = list(messages)
        super().__init__("\n".join(self.messages))


class FetchError(Exception):
    """A download for the air-gap bundle failed or did not match its checksum (or signature).
    The CLI prints the message and exits 1; nothing half-written is left behind."""

    exit_code = EXIT_FAILED

    def __init__(self, message: str) -> None:
        self.messages: list[str] = [one_line(message)]
        super().__init__(self.messages[0])
