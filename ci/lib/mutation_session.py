"""Keep one cosmic-ray session per path in step with the code (`make mutation`, ci/mutation.sh).

Usage: python ci/lib/mutation_session.py SESSION CONFIG PATH [--settings TEXT] [--recheck]

Run from the snapshot the trees are copied from (build/mutation/base). A session's
mutants are positions in the code it began with (file, operator, occurrence), so a file
that changed since must have its mutants made again, and only that file: SESSION.files
(JSON, file -> sha256 of its bytes) records what each file was. For a new session it runs
`cosmic-ray init`; for a changed, new or removed file it drops that file's mutants and
results and adds the new file's mutants from a `cosmic-ray init` of that file alone.
Then cosmic-ray's operator and pragma filters mark what is left out (ci/mutation.sh's
operator list) as skipped. --settings TEXT is what else a result depends on
(ci/mutation.sh passes the per-mutant timeout and MUTATION_TESTS): SESSION.settings
records it, and a session made under other settings starts again (one line says so),
so results of two settings never mix. A session from before settings were recorded
takes TEXT as its own (one line says so). A mutant no worker answered (ABNORMAL: the
worker was gone) loses its result and runs again. With --recheck, survivors lose their
result and run again (after tests were added for them, to confirm they are killed now).

Prints one line per change on stderr. Exit 0, or 1 with one line when cosmic-ray fails.
Raises sqlite3.Error on a session file that is not cosmic-ray's.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

TABLES = ("work_results", "mutation_specs", "work_items")  # children first: foreign keys


def file_hashes(path: Path) -> dict[str, str]:
    """sha256 (hex) of every *.py at or under `path` (repo-relative, as cosmic-ray names them)."""
    files = [path] if path.is_file() else sorted(path.rglob("*.py"))
    return {f.as_posix(): hashlib.sha256(f.read_bytes()).hexdigest() for f in files}


def cosmic_ray(*args: str) -> None:
    """Run a cosmic-ray command of this venv; SystemExit(1) with one line when it fails."""
    bindir = Path(sys.executable).parent
    done = subprocess.run([str(bindir / args[0]), *args[1:]], capture_output=True, text=True)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        print(f"mutation_session: {' '.join(args[:2])} failed: {last}", file=sys.stderr)
        raise SystemExit(1)


def drop_files(db: sqlite3.Connection, files: set[str]) -> None:
    """Remove the mutants (and their results) of `files` from the session."""
    for name in files:
        query = "SELECT job_id FROM mutation_specs WHERE module_path = ?"
        jobs = [(job,) for (job,) in db.execute(query, (name,))]
        for table in TABLES:
            db.executemany(f"DELETE FROM {table} WHERE job_id = ?", jobs)


def add_files(db: sqlite3.Connection, config: Path, files: set[str]) -> None:
    """Add the mutants of each of `files`, from a `cosmic-ray init` of that file alone."""
    text = config.read_text()
    with tempfile.TemporaryDirectory(prefix="mutation-session-") as scratch:
        for name in sorted(files):
            one_config = Path(scratch) / "one.toml"
            one_session = Path(scratch) / "one.sqlite"
            one_session.unlink(missing_ok=True)
            lines = [
                f'module-path = "{name}"' if line.startswith("module-path") else line
                for line in text.splitlines()
            ]
            one_config.write_text("\n".join(lines) + "\n")
            cosmic_ray("cosmic-ray", "init", str(one_config), str(one_session))
            db.execute("ATTACH DATABASE ? AS one", (str(one_session),))
            db.execute("INSERT INTO work_items SELECT * FROM one.work_items")
            db.execute("INSERT INTO mutation_specs SELECT * FROM one.mutation_specs")
            db.commit()
            db.execute("DETACH DATABASE one")


def main(argv: list[str]) -> int:
    """Create or bring up to date SESSION for PATH; see the module's docstring."""
    parser = argparse.ArgumentParser(description="Create or update one path's session.")
    parser.add_argument("session", type=Path)
    parser.add_argument("config", type=Path)
    parser.add_argument("path", type=Path)
    parser.add_argument("--settings", help="what else the results depend on")
    parser.add_argument("--recheck", action="store_true", help="survivors run again")
    args = parser.parse_args(argv)
    session, config, path = args.session, args.config, args.path
    state = session.with_name(session.name + ".files")
    recorded = session.with_name(session.name + ".settings")
    if args.settings is not None and session.exists():
        if not recorded.exists():
            print(f"mutation_session: settings from now on: {args.settings}", file=sys.stderr)
        elif (made_with := recorded.read_text()) != args.settings:
            print(
                f"mutation_session: started again: its results were made with {made_with!r},"
                f" this run has {args.settings!r}",
                file=sys.stderr,
            )
            session.unlink()
    now = file_hashes(path)
    if not session.exists() or not state.exists():
        session.unlink(missing_ok=True)
        cosmic_ray("cosmic-ray", "init", str(config), str(session))
    else:
        before: dict[str, str] = json.loads(state.read_text())
        changed = {name for name in before.keys() | now.keys() if before.get(name) != now.get(name)}
        if changed:
            names = " ".join(sorted(changed))
            print(f"mutation_session: made again, changed: {names}", file=sys.stderr)
            with sqlite3.connect(session) as db:
                drop_files(db, changed)
                db.commit()
                add_files(db, config, changed & now.keys())
    with sqlite3.connect(session) as db:
        # No worker answered (cosmic-ray's ABNORMAL): not a result, so it runs again.
        count = db.execute("DELETE FROM work_results WHERE worker_outcome = 'ABNORMAL'").rowcount
    if count:
        line = f"mutation_session: {count} mutants no worker answered will run again"
        print(line, file=sys.stderr)
    if args.recheck:
        with sqlite3.connect(session) as db:
            count = db.execute("DELETE FROM work_results WHERE test_outcome = 'SURVIVED'").rowcount
        print(f"mutation_session: {count} survivors will run again", file=sys.stderr)
    cosmic_ray("cr-filter-operators", str(session), str(config))
    cosmic_ray("cr-filter-pragma", str(session))
    state.write_text(json.dumps(now, indent=0, sort_keys=True))
    if args.settings is not None:
        recorded.write_text(args.settings)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
