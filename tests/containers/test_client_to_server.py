"""The two images together: the client container talks to the server container by service name.

Each example is a whole client container run (about a second), so the
budget is small; the payloads are still hypothesis', binary included, passed
as the CLI's documented `\\xHH` escapes and read back from its `--json` output.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from socket_harness import client
from socket_harness.protocol import ErrorReason, Framing
from socket_harness.strategies import container_settings, payloads
from tests.containers.conftest import RunClient, StartServer
from tests.harness.containers import ServerContainer
from tests.oracle import model

# Small enough to pass as arguments (four characters a byte), large enough to span segments.
MAX_PAYLOAD = 4096
EXIT_OK, EXIT_USAGE, EXIT_CONNECT, EXIT_SERVER_ERROR = 0, 2, 3, 6


@pytest.fixture(scope="module")
def server(start_module_server: StartServer) -> ServerContainer:
    return start_module_server()  # reachable as `server` on the module's network


def escaped(payload: bytes) -> str:
    """The payload as one CLI argument: every byte a `\\xHH` escape."""
    return "".join(f"\\x{byte:02x}" for byte in payload)


def as_json_text(data: bytes) -> str:
    """How --json shows bytes: UTF-8, any other byte as a \\xNN escape."""
    return data.decode("utf-8", "backslashreplace")


def run_json(client_runner: RunClient, args: list[str]) -> tuple[int, dict[str, Any]]:
    run = client_runner(["--json", "--timeout", "10", *args])
    assert run.stderr == "", run.stderr
    return run.exit_code, json.loads(run.stdout)


@pytest.mark.covers("client/exit-0", "client/prints-as-sent")
@container_settings(4)
@given(
    framing=st.sampled_from(list(Framing)),
    data=st.data(),
)
def test_client_image_exchanges_any_payload_with_the_server_image(
    server: ServerContainer, client_runner: RunClient, framing: Framing, data: st.DataObject
) -> None:
    bodies = data.draw(
        st.lists(
            payloads(MAX_PAYLOAD, without_newline=framing is Framing.LINE).filter(
                lambda b: framing is not Framing.SEED or b  # seed cannot send nothing
            ),
            min_size=1,
            max_size=3,
        ),
        label="bodies",
    )
    url = f"{framing.value}://server:{server.ports[framing]}"
    exit_code, doc = run_json(client_runner, [url, *map(escaped, bodies)])
    assert exit_code == EXIT_OK, doc
    assert doc["exit_code"] == EXIT_OK
    assert doc["error"] is None
    exchanges = [x for conn in doc["connections"] for x in conn["exchanges"]]
    assert [x["answer"] for x in exchanges] == [as_json_text(b) for b in bodies]
    # seed: one connection (and greeting) per message; line and frame: one for all.
    expected_connections = len(bodies) if framing is Framing.SEED else 1
    assert len(doc["connections"]) == expected_connections


@pytest.mark.covers("client/prints-as-sent", "seed/no-wait-for-eof")
def test_text_output_is_the_tutorial_exchange_byte_for_byte(
    server: ServerContainer, client_runner: RunClient
) -> None:
    run = client_runner(["seed://server:9000", "Ho\\r\\nfirst blood\\r\\n"])
    assert run.exit_code == EXIT_OK, run.stderr
    expected = model.greeting("seed") + model.ack("seed", b"Ho\r\nfirst blood\r\n")
    assert run.stdout.encode() == expected


@pytest.mark.covers("client/exit-2", "client/exit-3", "client/exit-6", "errors/busy")
def test_exit_codes_for_no_server_a_bad_url_and_a_busy_server(
    start_server: StartServer, client_runner: RunClient
) -> None:
    assert client_runner(["line://server:9999", "x"]).exit_code == EXIT_CONNECT
    assert client_runner(["tcp://server:9001", "x"]).exit_code == EXIT_USAGE

    busy = start_server(alias="busy", max_connections=1, overflow="reject")
    # The host holds the one slot while the client container asks for another.
    with client.connect(busy.url(Framing.LINE), timeout=10) as holder:
        holder.greeting()
        busy_url = f"line://busy:{busy.ports[Framing.LINE]}"
        exit_code, doc = run_json(client_runner, [busy_url, "x"])
    assert exit_code == EXIT_SERVER_ERROR
    assert doc["error"]["reason"] == ErrorReason.BUSY.value
