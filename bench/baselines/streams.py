"""asyncio streams: `asyncio.start_server`, `readexactly` for frames."""

from __future__ import annotations

import asyncio

from socket_harness.protocol import FRAME_HEADER_SIZE, SEED_READ_SIZE, Framing, codec_for

from .common import BACKLOG, announce, endpoint_from_argv


async def serve() -> None:
    endpoint = endpoint_from_argv(__doc__ or "")
    codec = codec_for(endpoint.framing)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            writer.write(codec.greeting)
            await writer.drain()
            if endpoint.framing is Framing.SEED:
                data = await reader.read(SEED_READ_SIZE)
                if data:
                    writer.write(codec.encode_ack(data))
                    await writer.drain()
                return
            while True:
                header = await reader.readexactly(FRAME_HEADER_SIZE)
                body = await reader.readexactly(int.from_bytes(header, "big"))
                writer.write(codec.encode_ack(body))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass  # the peer left: normal
        finally:
            writer.close()

    server = await asyncio.start_server(handle, endpoint.host, endpoint.port, backlog=BACKLOG)
    async with server:
        announce(endpoint, server.sockets[0].getsockname())
        await server.serve_forever()


def main() -> None:
    asyncio.run(serve())


if __name__ == "__main__":
    main()
