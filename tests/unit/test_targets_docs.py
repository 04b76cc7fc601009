"""docs/targets.md says what the code does: every key and option is documented, and its copy
of the project's profile is the file itself."""

from __future__ import annotations

import re
from pathlib import Path

from socket_harness.options import OPTIONS
from socket_harness.validate import (
    BUILD_KEYS,
    LISTENER_KEYS,
    PROMISE_KEYS,
    SETUP_KEYS,
    TARGET_KEYS,
    WIRE_KEYS,
)

ROOT = Path(__file__).resolve().parents[2]
DOCS = (ROOT / "docs" / "targets.md").read_text(encoding="utf-8")


def section(title: str) -> str:
    """The text of the `### title` section, up to the next heading."""
    found = re.search(rf"^###? {re.escape(title)}.*?$(.*?)(?=^##)", DOCS, re.M | re.S)
    assert found, f"docs/targets.md has no section {title!r}"
    return found.group(1)


def test_every_key_has_a_row_in_its_table() -> None:
    tables = {
        "`[target]`": TARGET_KEYS,
        "`[build]`": BUILD_KEYS,
        "`[[listeners]]`": LISTENER_KEYS,
        "`[wire]`": WIRE_KEYS,
    }
    for title, keys in tables.items():
        rows = section(title)
        for key in keys:
            assert f"| `{key}` |" in rows, f"{title} documents no `{key}`"
    promises = section("`[promises.*]`")
    for name, keys in PROMISE_KEYS.items():
        assert f"`[promises.{name}]`" in promises
        for key in keys:
            assert f"| `{key}` |" in promises, f"promises.{name} documents no `{key}`"
    for key in SETUP_KEYS:
        assert f"`{key}`" in promises


def test_every_option_is_in_the_options_table() -> None:
    rows = section("Options")
    for option in OPTIONS:
        assert f"| `{option.flag} " in rows, f"no row for {option.flag}"


def test_the_copy_of_the_project_profile_is_the_file() -> None:
    shipped = (ROOT / "targets" / "socket-harness.toml").read_text(encoding="utf-8")
    blocks = re.findall(r"^```toml\n(.*?)^```", DOCS, re.M | re.S)
    assert shipped in blocks
