"""Coverage-guided fuzzing of protocol/'s sans-IO decoders with atheris (libFuzzer).

`python -m socket_harness.fuzz.decoders line|frame [CORPUS_DIR...] [-max_total_time=S ...]`

Each input is a limit, a way of cutting, and a byte stream. The decoder is fed
the stream in those pieces; what it returns (messages, `MessageTooLarge`, the
bytes still buffered) must be what the spec's model (socket_harness.fuzz.model)
says, and the same whatever the cuts. A difference raises, and libFuzzer saves
the input as a crash file (`-artifact_prefix`). Arguments other than the
decoder's name go to libFuzzer unchanged.
"""

from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports(include=["protocol"]):
    from socket_harness.protocol import FrameDecoder, LineDecoder, MessageTooLarge

from socket_harness.fuzz import model

DECODERS: dict[str, type[LineDecoder] | type[FrameDecoder]] = {
    "line": LineDecoder,
    "frame": FrameDecoder,
}


def split(data: bytes) -> tuple[int, list[bytes]]:
    """An input as (limit 1..1024 bytes, pieces of the stream): two header bytes, then cuts.

    Byte 0 picks the limit; byte 1's low 3 bits say how many of the next bytes are
    piece sizes (1..255, 0 = the rest); the remaining bytes are the stream.
    """
    limit = 1 + data[0] * 4 if data else 1
    count = data[1] & 7 if len(data) > 1 else 0
    sizes = data[2 : 2 + count]
    stream = data[2 + count :]
    pieces: list[bytes] = []
    at = 0
    for size in sizes:
        if size == 0 or at >= len(stream):
            break
        pieces.append(stream[at : at + size])
        at += size
    pieces.append(stream[at:])
    return limit, pieces


def check(framing: str, data: bytes) -> None:
    """Feed one input to the `framing` decoder; AssertionError when it differs from the model."""
    limit, pieces = split(data)
    stream = b"".join(pieces)
    expected = model.read(framing, stream, limit)
    decoder = DECODERS[framing](limit)
    messages: list[bytes] = []
    too_large = False
    for piece in pieces:
        try:
            messages += decoder.feed(piece)
        except MessageTooLarge as exc:
            messages += exc.complete
            too_large = True
            break
    assert too_large == expected.too_large, f"too-large: {too_large}, spec: {expected.too_large}"
    assert messages == list(expected.messages), "messages differ from the spec's"
    if not too_large:
        assert decoder.buffered == expected.partial, (
            f"buffered {decoder.buffered}, spec: {expected.partial} bytes of a partial message"
        )


def main(argv: list[str]) -> None:
    if len(argv) < 2 or argv[1] not in DECODERS:
        print("usage: python -m socket_harness.fuzz.decoders line|frame [libFuzzer args]")
        sys.exit(2)
    framing = argv[1]
    atheris.Setup([argv[0], *argv[2:]], lambda data: check(framing, data))
    atheris.Fuzz()


if __name__ == "__main__":
    main(sys.argv)
