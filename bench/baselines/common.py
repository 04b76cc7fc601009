"""What every baseline shares: its one listen URL, its backlog, its ready line, and the
plain blocking conversation the blocking and the threaded servers both hold."""

from __future__ import annotations

import argparse
import socket

from socket_harness.protocol import (
    DEFAULT_MAX_MESSAGE_BYTES,
    SEED_READ_SIZE,
    Endpoint,
    Framing,
    ProtocolError,
    codec_for,
    parse_endpoint,
)

# The project's server listens with 512 by default: the same here, so a
# comparison measures the serving model, not SYN drops at a smaller backlog.
BACKLOG = 512
RECV_SIZE = 65536


def endpoint_from_argv(description: str) -> Endpoint:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--listen", required=True, type=parse_endpoint, help="seed:// or frame://")
    endpoint: Endpoint = parser.parse_args().listen
    return endpoint


def announce(endpoint: Endpoint, bound: tuple[object, ...]) -> None:
    """Say the server listens, with the port actually bound (port 0 resolved)."""
    print(f"ready listener={endpoint.framing.value}://{bound[0]!s}:{bound[1]}", flush=True)


def converse(conn: socket.socket, framing: Framing) -> None:
    """Greet; seed: read once and answer; frame: answer every frame until the peer leaves."""
    codec = codec_for(framing)
    try:
        conn.sendall(codec.greeting)
        if framing is Framing.SEED:
            data = conn.recv(SEED_READ_SIZE)
            if data:
                conn.sendall(codec.encode_ack(data))
            return
        decoder = codec.message_decoder(DEFAULT_MAX_MESSAGE_BYTES)
        while data := conn.recv(RECV_SIZE):
            for message in decoder.feed(data):
                conn.sendall(codec.encode_ack(message))
    except (OSError, ProtocolError):
        pass  # a peer that resets or sends garbage ends only its own conversation
