"""The harness's oracle: what a server must send, from docs/protocol.md alone.

- `model`: the reference model, pure functions from (framing, bytes sent, limit)
  to the bytes a conforming server answers; written from the specification's
  prose and sharing no code with `protocol/`, `server/` or `client/`.
- `golden`: the specification's table of golden exchanges, parsed from
  docs/protocol.md itself (the document is the oracle's one source).
- `wire`: a plain socket peer that sends bytes and reads until the server
  closes, and says which server, what it waited for and the last bytes it saw
  when an answer does not come.
- `target`: one golden exchange played against a server under test (a process
  in the fast tier, a container in the container tier), and the verdict.
"""
