"""The corpus of bad inputs (tests/corpus/, tests/corpus_runner.py): every file and generated input
is rejected cleanly (exit 2, one `error:` line per problem naming the file, the field and the fix,
the expected text, nothing run, no host contacted)."""

from __future__ import annotations

import subprocess
import sys

import pytest

import corpus_runner
from helpers import REPO

CASES = corpus_runner.cases()


def test_corpus_covers_every_class() -> None:
    names = {case.name for case in CASES}
    assert len(CASES) >= 60
    for part in ("host-name", "lookup", "reset-", "newline", "ansible-host", "node-name", "duplicate", "alias-bomb",
                 "deep-nesting", "range", "dev-zero", "fifo", "binary", "is-a-file", "first-server", "port"):
        assert any(part in name for name in names), part


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_rejected_cleanly(case: corpus_runner.Case) -> None:
    assert corpus_runner.check(case) is None


def test_runner_prints_the_summary() -> None:
    result = subprocess.run([sys.executable, str(REPO / "tests" / "corpus_runner.py")], capture_output=True, text=True,
                            cwd=REPO, timeout=600, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[-1] == f"{len(CASES)} of {len(CASES)} rejected cleanly"
