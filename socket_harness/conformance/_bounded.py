"""The hypothesis settings of the conformance suite's property checks: bounded, so a red run
ends fast.

Every example is a real round trip to the target, so the budget is small and set here,
as the hypothesis settings profile `socket-harness-conformance`: at most EXAMPLES examples
(the environment variable SOCKET_HARNESS_EXAMPLES changes it), DEADLINE per example, and
no shrinking (a failure is reported as the example that failed, without the minutes of
round trips a shrink against a hanging target would take). No example database: a run
against one target must not replay another target's failures.
"""

from __future__ import annotations

import os
from datetime import timedelta

from hypothesis import HealthCheck, Phase, settings

PROFILE = "socket-harness-conformance"
EXAMPLES = int(os.environ.get("SOCKET_HARNESS_EXAMPLES", "15"))
DEADLINE = timedelta(seconds=10)  # one example: a few round trips, each with its own timeout

settings.register_profile(
    PROFILE,
    max_examples=EXAMPLES,
    deadline=DEADLINE,
    phases=(Phase.explicit, Phase.reuse, Phase.generate),
    database=None,
    # The target is a fixture of the test (one container per check), on purpose.
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    print_blob=True,
)
BOUNDED = settings.get_profile(PROFILE)


def stateful(steps: int) -> settings:
    """BOUNDED for a state machine of at most `steps` steps per example."""
    return settings(BOUNDED, stateful_step_count=steps)
