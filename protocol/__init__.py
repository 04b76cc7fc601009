"""The wire format of socket-harness, as sans-IO code: bytes in, messages out.

Server, client and tests all use this package; nothing here touches a socket.
See docs/protocol.md for the specification.
"""

from .codecs import CODECS, Codec, Decoder, codec_for, reply_limit
from .constants import (
    ACK_PREFIX,
    DEFAULT_MAX_MESSAGE_BYTES,
    ERR_PREFIX,
    FRAME_HEADER_SIZE,
    GREETING,
    SEED_READ_SIZE,
    ErrorReason,
    Framing,
)
from .errors import MessageTooLarge, ProtocolError
from .frame import FrameDecoder, encode_frame
from .line import LineDecoder, encode_line
from .replies import Ack, Greeting, Reply, ServerError, classify_body
from .seed import SeedDecoder, SeedResponse, parse_seed_response
from .url import Endpoint, format_host_port, parse_endpoint

__all__ = [
    "ACK_PREFIX",
    "CODECS",
    "DEFAULT_MAX_MESSAGE_BYTES",
    "ERR_PREFIX",
    "FRAME_HEADER_SIZE",
    "GREETING",
    "SEED_READ_SIZE",
    "Ack",
    "Codec",
    "Decoder",
    "Endpoint",
    "ErrorReason",
    "FrameDecoder",
    "Framing",
    "Greeting",
    "LineDecoder",
    "MessageTooLarge",
    "ProtocolError",
    "Reply",
    "SeedDecoder",
    "SeedResponse",
    "ServerError",
    "classify_body",
    "codec_for",
    "encode_frame",
    "encode_line",
    "format_host_port",
    "parse_endpoint",
    "parse_seed_response",
    "reply_limit",
]
