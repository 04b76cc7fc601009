"""The container harness: labels, images, server and client containers, log attachment.

testcontainers' reaper (Ryuk) is an image that cannot be pulled without a
registry, so it is disabled here, before any module of this package imports
testcontainers; cleanup is ours (fixtures tear down, `ci/sweep.sh` sweeps).
"""

import os

os.environ["TESTCONTAINERS_RYUK_DISABLED"] = "true"
