"""What the roles' filter plugins share: Ansible's values turned into plain Python.

Ansible hands filters tagged / lazy / `!unsafe` wrappers of str, int, list and dict; the
package's functions expect plain types. No ansible import here (the package imports ansible
lazily). Finding the package itself stays in each plugin: a plugin cannot import the helper
that would find the helper.
"""

from __future__ import annotations

import json
from typing import Any


def plain(value: Any) -> Any:
    """Ansible's tagged/lazy/unsafe values -> plain Python types (str, int, float, bool, None,
    list, dict)."""
    return json.loads(json.dumps(value))


def json_document(value: Any) -> Any:
    """A JSON document a task registered: its text (`stdout`, parsed here; ValueError when it is
    not JSON) or what Ansible already parsed (made plain)."""
    return json.loads(str(value)) if isinstance(value, str) else plain(value)
