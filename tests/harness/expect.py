"""What protocol/ says a byte stream means to a server: the harness's expectations.

A test that must know exactly which messages precede a fault (`ERR too-large`)
asks here where protocol/ puts the fault, and can send just that far: the
server refuses as soon as the limit is certain, not at the message's end.
"""

from __future__ import annotations

from socket_harness.protocol import SEED_READ_SIZE, Framing, MessageTooLarge, codec_for


def up_to_the_fault(framing: Framing, data: bytes, limit: int) -> tuple[bytes, list[bytes], bool]:
    """What protocol/ says `data` means to a server: the bytes up to the first fault
    (a sender that goes on past it races the server's close), the messages in
    them, and whether a fault (too-large) ends them."""
    if framing is Framing.SEED:
        data = data[:SEED_READ_SIZE]  # seed reads once; more would be ignored
    try:
        return data, codec_for(framing).message_decoder(limit).feed(data), False
    except MessageTooLarge:
        pass
    low, high = 0, len(data)  # the shortest prefix that is already too large
    while low < high:
        middle = (low + high) // 2
        try:
            codec_for(framing).message_decoder(limit).feed(data[:middle])
            low = middle + 1
        except MessageTooLarge:
            high = middle
    try:
        codec_for(framing).message_decoder(limit).feed(data[:low])
    except MessageTooLarge as exc:
        return data[:low], exc.complete, True
    raise AssertionError("unreachable: the whole of data was too large")
