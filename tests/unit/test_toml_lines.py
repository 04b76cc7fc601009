"""socket_harness.toml_lines: the line of every key, which a profile error names."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field

from hypothesis import Phase, given, settings
from hypothesis import strategies as st

from socket_harness.toml_lines import KeyPath, key_lines, line_of

DOCUMENT = '''\
# a comment with [brackets] and key = 1
title = "x = 1 [no]"
[target]
name = 'n'
"quoted key" = 1
dotted.inner = 2
text = """
[not.a.table]
fake = 1 \\""" still the string
"""
after = 3
arr = [
  "a",
  [1, 2],
  { k = 1 },
]
[[listeners]]
port = 1
[[listeners]]
inline = { a = 1, b = { c = 2 } }
[listeners.sub]
x = 1
[[promises.mc]]
limit = 1
[[promises.mc]]
limit = 2
lit = \'\'\'
[[listeners]]
\'\'\'
end = 1
'''


def test_every_kind_of_key_is_found_on_its_line() -> None:
    tomllib.loads(DOCUMENT)  # the scanner is only ever given valid TOML
    lines = key_lines(DOCUMENT)
    expected: dict[KeyPath, int] = {
        ("title",): 2,
        ("target",): 3,
        ("target", "name"): 4,
        ("target", "quoted key"): 5,
        ("target", "dotted"): 6,
        ("target", "dotted", "inner"): 6,
        ("target", "text"): 7,
        ("target", "after"): 11,
        ("target", "arr"): 12,
        ("target", "arr", 0): 13,
        ("target", "arr", 1): 14,
        ("target", "arr", 2): 15,
        ("target", "arr", 2, "k"): 15,
        ("listeners",): 17,
        ("listeners", 0): 17,
        ("listeners", 0, "port"): 18,
        ("listeners", 1): 19,
        ("listeners", 1, "inline"): 20,
        ("listeners", 1, "inline", "b", "c"): 20,
        ("listeners", 1, "sub"): 21,
        ("listeners", 1, "sub", "x"): 22,
        ("promises", "mc", 0, "limit"): 24,
        ("promises", "mc", 1): 25,
        ("promises", "mc", 1, "limit"): 26,
        ("promises", "mc", 1, "lit"): 27,
        ("promises", "mc", 1, "end"): 30,
    }
    assert {path: lines.get(path) for path in expected} == expected
    # Nothing inside a string was taken for a key or a table.
    assert ("not",) not in lines
    assert ("target", "fake") not in lines
    assert ("listeners", 2) not in lines


def test_a_missing_key_falls_back_to_its_table() -> None:
    lines = key_lines(DOCUMENT)
    assert line_of(lines, ("listeners", 1, "port")) == 19
    assert line_of(lines, ("promises", "mc", 1, "overflow")) == 25
    assert line_of(lines, ("nowhere", "at", "all")) == 1


# --- generated documents: the renderer knows where it put each key ---------------------

names = st.from_regex(r"[a-z][a-z0-9_-]{0,5}", fullmatch=True)
# Text that looks like TOML structure, inside strings where it must be skipped.
decoys = st.lists(
    st.sampled_from(["k = 1", "[t]", "[[t]]", "# c", "x.y = 2", "{ a = 1 }", '"', "'", "\\", ""]),
    max_size=4,
).map("\n".join)


@dataclass
class Rendered:
    lines: list[str] = field(default_factory=list)
    expected: dict[KeyPath, int] = field(default_factory=dict)

    def add(self, text: str, path: KeyPath | None = None) -> None:
        if path is not None:
            self.expected[path] = len(self.lines) + 1
        self.lines += text.split("\n")


def basic(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


@st.composite
def values(draw: st.DrawFn, path: KeyPath, out: Rendered, prefix: str) -> None:
    """Render `prefix` + one value of a random kind, recording the lines of what it holds."""
    kind = draw(st.sampled_from(["int", "basic", "multi", "literal", "array", "inline"]))
    if kind == "int":
        out.add(f"{prefix}{draw(st.integers())}", path)
    elif kind == "basic":
        out.add(prefix + basic(draw(decoys)), path)
    elif kind == "multi":
        body = draw(decoys).replace("\\", "\\\\").replace('"', '\\"')
        out.add(f'{prefix}"""\n{body}"""', path)
    elif kind == "literal":
        body = draw(decoys).replace("'", "")
        out.add(f"{prefix}'''\n{body}'''", path)
    elif kind == "array":
        out.add(f"{prefix}[", path)
        for index in range(draw(st.integers(0, 3))):
            draw(values((*path, index), out, ""))
            out.lines[-1] += ","
        out.add("]")
    else:
        keys = draw(st.lists(names, unique=True, max_size=3))
        pairs = ", ".join(f"{key} = {index}" for index, key in enumerate(keys))
        out.add(prefix + "{ " + pairs + " }", path)
        for key in keys:
            out.expected[(*path, key)] = len(out.lines)


@st.composite
def documents(draw: st.DrawFn) -> Rendered:
    out = Rendered()
    top = draw(st.lists(names, unique=True, min_size=1, max_size=6))
    in_table = False
    for name in top:
        kind = draw(st.sampled_from(["key", "table", "array of tables"]))
        if kind == "key":
            if not in_table:  # after a header, it would belong to that table
                draw(values((name,), out, f"{name} = "))
            continue
        in_table = True
        for index in range(draw(st.integers(1, 3)) if kind == "array of tables" else 1):
            table: KeyPath = (name, index) if kind == "array of tables" else (name,)
            out.add(f"[[{name}]]" if kind == "array of tables" else f"[{name}]", table)
            for key in draw(st.lists(names, unique=True, max_size=3)):
                draw(values((*table, key), out, f"{key} = "))
    return out


@settings(report_multiple_bugs=False, phases=tuple(set(Phase) - {Phase.explain}))  # red: quick
@given(documents())
def test_generated_documents_map_each_key_to_the_line_it_was_written_on(doc: Rendered) -> None:
    text = "\n".join(doc.lines) + "\n"
    tomllib.loads(text)  # the generator writes valid TOML
    lines = key_lines(text)
    assert {path: lines.get(path) for path in doc.expected} == doc.expected
