"""Relay the lessons' API ports from the container's own address to 127.0.0.1.

`connexion run` listens on 127.0.0.1, which `docker run -p 5000:5000` cannot reach:
published ports arrive on the container's network address. This listens on that
address, on the same ports, and pipes every connection through to 127.0.0.1, so
http://localhost:5000/ui/ on the teacher's or learner's machine reaches the API
started in the container exactly as the lessons say. The classroom image starts it
from docker/before-notebook.sh; it exits when JupyterLab's container stops.

    python docker/relay.py 5000 8080                 the container's address
    python docker/relay.py --bind 127.0.0.2 5000     any other address (tests)
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import sys
from functools import partial

TARGET = "127.0.0.1"
CHUNK = 64 * 1024


def own_addresses() -> list[str]:
    """The container's IPv4 addresses, as Docker writes them into /etc/hosts for its hostname."""
    try:
        _, _, addresses = socket.gethostbyname_ex(socket.gethostname())
    except OSError:
        return []
    return [address for address in addresses if address != TARGET]


async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy one direction until end of stream, then pass the end on."""
    try:
        while data := await reader.read(CHUNK):
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except (ConnectionError, OSError):
        pass


async def relay(port: int, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
    """Connect one client to 127.0.0.1:port; if nothing listens there, hang up."""
    try:
        upstream_reader, upstream_writer = await asyncio.open_connection(TARGET, port)
    except OSError:
        client_writer.close()
        return
    try:
        await asyncio.gather(pipe(client_reader, upstream_writer), pipe(upstream_reader, client_writer))
    finally:
        for writer in (upstream_writer, client_writer):
            writer.close()


async def serve(addresses: list[str], ports: list[int]) -> int:
    servers = []
    for address in addresses:
        for port in ports:
            try:
                servers.append(await asyncio.start_server(partial(relay, port), address, port, reuse_address=True))
            except OSError as error:  # e.g. something already listens on 0.0.0.0:port
                print(f"relay: cannot listen on {address}:{port} ({error.strerror}); not relaying it", file=sys.stderr)
            else:
                print(f"relay: {address}:{port} -> {TARGET}:{port}", file=sys.stderr, flush=True)
    if not servers:
        return 1
    await asyncio.gather(*(server.serve_forever() for server in servers))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python docker/relay.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("ports", nargs="+", type=int, metavar="PORT", help="ports to relay to 127.0.0.1")
    parser.add_argument("--bind", action="append", metavar="ADDRESS",
                        help="address to listen on; repeatable (default: the container's own addresses)")
    args = parser.parse_args(argv)
    addresses = args.bind or own_addresses()
    if not addresses:
        print("relay: this machine has no address besides 127.0.0.1; nothing to relay", file=sys.stderr)
        return 0
    try:
        return asyncio.run(serve(addresses, args.ports))
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
