"""socket-harness: a TCP server, a client and the harness that tests any TCP service.

The one import package this distribution installs. Its parts:
`socket_harness.protocol` (the sans-IO wire format, docs/protocol.md),
`socket_harness.server` and `socket_harness.client` (each also an image of its
own, needing only the standard library). In the repository they live at the top
(`protocol/`, `server/`, `client/`, each beside its Dockerfile); the links in this
folder make them part of this package.
"""
