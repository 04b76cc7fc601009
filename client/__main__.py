"""`python -m socket_harness.client`: the CLI.

`python -m socket_harness.client load` is the load generator.
"""

import sys

from .cli import main

if __name__ == "__main__":  # the load generator's spawned workers import this module
    sys.exit(main())
