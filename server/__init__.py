"""The socket-harness TCP server: `python -m socket_harness.server --help`."""
