"""The conformance suite: checks of any TCP target against the promises its profile declares.

Run it against a target profile (docs/targets.md):

    python -m pytest --pyargs socket_harness.conformance --target my-echo.toml
    python -m pytest --pyargs socket_harness.conformance --target targets/ --list-checks
    python -m pytest --pyargs socket_harness.conformance --target my.toml --check backlog/

Every check is marked with its stable ID (`check`) and the promise it tests
(`promise`): a promise the target does not declare is skipped as "not declared
by the target"; a check that needs the target's container is "not applicable"
to an address. Expected bytes come from the profile's wire constants and
docs/protocol.md (socket_harness.expect), never from socket_harness.protocol.
"""
