"""`python -m socket_harness.server`: run the server until a signal or --max-sessions stops it."""

import sys

from .app import main

sys.exit(main())
