"""socket_harness.observe on the server container, from the host through its PID: the same
descriptors, memory and accept queue as the server's own /proc shows inside the container."""

from __future__ import annotations

from socket_harness import client
from socket_harness.observe import accept_queue_depth, fd_count, rss_bytes
from socket_harness.protocol import Framing
from tests.containers.conftest import StartServer
from tests.harness.containers import ServerContainer
from tests.harness.waiting import wait_until

TIMEOUT = 10.0
BACKLOG = 3
QUEUED = 2
KIB = 1024


def host_pid(server: ServerContainer) -> int:
    """The server's PID as the host sees it (`docker inspect -f '{{.State.Pid}}'`)."""
    wrapped = server.container.get_wrapped_container()
    wrapped.reload()
    return int(wrapped.attrs["State"]["Pid"])


def test_observation_from_the_host_matches_the_view_inside_the_container(
    start_server: StartServer,
) -> None:
    server = start_server(max_connections=1, overflow="pause", backlog=BACKLOG)
    pid = host_pid(server)
    port = server.ports[Framing.LINE]
    assert fd_count(pid) == server.fd_count()
    # Within 16 pages: the HEALTHCHECK's probes, served meanwhile, may move it a little.
    assert abs(rss_bytes(pid) - server.rss_kib() * KIB) <= 64 * KIB
    with client.connect(server.url(Framing.LINE), timeout=TIMEOUT) as holder:
        holder.greeting()  # the one slot: later connects wait in the accept queue
        waiting = [client.connect(server.url(Framing.LINE), timeout=TIMEOUT) for _ in range(QUEUED)]
        try:
            wait_until(
                lambda: accept_queue_depth(pid, port) == QUEUED,
                timeout=TIMEOUT,
                what=f"{QUEUED} connections queued, read from the host",
            )
            assert server.accept_queue(Framing.LINE) == QUEUED
            assert fd_count(pid) == server.fd_count()
        finally:
            for conn in waiting:
                conn.close()
