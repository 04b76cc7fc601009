"""The socket-harness TCP server: `python -m server --help`."""
