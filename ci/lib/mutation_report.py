"""Print one cosmic-ray session's score and its survivors (`make mutation`, ci/mutation.sh).

Usage: python ci/lib/mutation_report.py SESSION.sqlite LABEL

Prints each surviving mutant as `file:line operator` with its diff, then a summary,
and last a machine-read line `counts KILLED DONE PENDING` (ci/mutation.sh sums them).
Skipped mutants (a `# pragma: no mutate` line, an excluded operator) count nowhere.
A mutant whose tests ran past the timeout counts as killed, as cosmic-ray counts it;
one that broke the test run itself (incompetent) counts as killed too and is listed.
One whose worker gave no outcome (ABNORMAL: gone, or its script was) counts as not run;
ci/lib/mutation_session.py drops that result, so the next run runs it again.
The selector's own lines (ci/lib/mutation_tests.py: `mutation_tests: ...` on its stdout,
which cosmic-ray keeps as the mutant's output) are printed with the mutant they are about:
a survivor no mapped test ran, a mutant counted as killed because not exactly one file
differed.
"""

from __future__ import annotations

import sys
from pathlib import Path

from cosmic_ray.work_db import WorkDB, use_db
from cosmic_ray.work_item import TestOutcome, WorkerOutcome


def main(session: str, label: str) -> int:
    """Print the report; always 0 (survivors are findings, not a failure of the run)."""
    survivors: list[str] = []
    incompetent: list[str] = []
    notes: list[str] = []
    killed = timeouts = 0
    with use_db(Path(session), WorkDB.Mode.open) as db:
        pending = len(db.pending_work_items)
        for item, result in db.completed_work_items:
            if result.worker_outcome == WorkerOutcome.SKIPPED:
                continue
            if result.worker_outcome == WorkerOutcome.ABNORMAL:
                pending += 1  # no worker answered (it was gone): the next run runs it again
                continue
            mutation = item.mutations[0]
            where = f"{mutation.module_path}:{mutation.start_pos[0]} {mutation.operator_name}"
            for line in (result.output or "").splitlines():
                if line.startswith("mutation_tests: "):
                    notes.append(f"{where}: {line}")
            if result.test_outcome == TestOutcome.SURVIVED:
                survivors.append(f"{where}\n{result.diff or ''}")
                continue
            killed += 1
            if result.output == "timeout":
                timeouts += 1
            if result.test_outcome == TestOutcome.INCOMPETENT:
                incompetent.append(where)
    done = killed + len(survivors)
    for survivor in sorted(survivors):
        print(f"SURVIVED {survivor}")
    for where in sorted(incompetent):
        print(f"incompetent (counted as killed): {where}")
    for note in sorted(notes):
        print(note)
    score = 100.0 * killed / done if done else 0.0
    print(
        f"{label}: score {score:.1f}% - {killed} of {done} mutants killed "
        f"({timeouts} by the timeout), {len(survivors)} survived, {pending} not run"
    )
    print(f"counts {killed} {done} {pending}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1], sys.argv[2]))
