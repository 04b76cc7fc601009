"""`python -m socket_harness.server`: run the server until a signal or --max-sessions stops it."""

# The first instructions, before the imports that take most of the start-up: from here
# on SIGTERM and SIGINT are recorded, never fatal nor ignored (README: Signals), and no
# socket can take the number of a standard stream closed at start (README: Standard streams).
from .stop_signals import catch, ignore

catch()

from .streams import flush_standard, secure_standard_fds  # noqa: E402

secure_standard_fds()

import sys  # noqa: E402

from .app import main  # noqa: E402

try:
    code = main()
finally:
    ignore()  # the exit code is decided (a usage error's SystemExit too)
    flush_standard()  # a reader gone now cannot turn the exit code into 120
sys.exit(code)
