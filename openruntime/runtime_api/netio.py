"""Loopback TCP with `_socket`, the C half of `socket`, for the proxy and the upstream client.

`socket.py` imports enum and selectors and builds its enums at import: ~9 ms of every cold
start (docs/benchmarks.md, "Cold start"), for conveniences these few calls do not need.
A connection is read through a buffered file over its descriptor, as `makefile("rb")`
gives, with C-level readline.
"""

from __future__ import annotations

import _socket
import io

Socket = _socket.socket  # socket.socket is a subclass: either is accepted where this is


def listen_loopback(port: int = 0, backlog: int = 64) -> Socket:
    """A listening socket on 127.0.0.1 (close-on-exec, like every socket Python makes)."""
    listener = _socket.socket(_socket.AF_INET, _socket.SOCK_STREAM)
    try:
        listener.setsockopt(_socket.SOL_SOCKET, _socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", port))
        listener.listen(backlog)
    except OSError:
        listener.close()
        raise
    return listener


def accept(listener: Socket) -> Socket:
    """The next connection, blocking, with Nagle off (small requests go out at once)."""
    fd, _ = listener._accept()  # type: ignore[attr-defined]  # what socket.accept() wraps
    conn = _socket.socket(listener.family, listener.type, listener.proto, fileno=fd)
    conn.setblocking(True)
    conn.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, 1)
    return conn


def send_chunk(sock: Socket, chunk: bytes) -> None:
    """One chunk of a chunked body: size line, data, CRLF, in one sendmsg and without
    copying the data into a new bytes object (a 64 KiB chunk each time, on a stream)."""
    size_line = b"%x\r\n" % len(chunk)
    sent = sock.sendmsg((size_line, chunk, b"\r\n"))
    if sent < len(size_line) + len(chunk) + 2:  # a full socket buffer: the rest the simple way
        sock.sendall(b"".join((size_line, chunk, b"\r\n"))[sent:])


def connect(host: str, port: int) -> Socket:
    """`socket.create_connection((host, port))` with Nagle off: every address of `host`
    in turn, the last error if none answers."""
    error: OSError | None = None
    # A str host goes through the "idna" codec (encodings.idna imports re, enum, stringprep,
    # unicodedata: ~7 ms of CPU on the cold start, beside the booting runtime); an ASCII
    # host (Lambda's is 127.0.0.1) needs no codec.
    try:
        name: str | bytes = host.encode("ascii")
    except UnicodeEncodeError:
        name = host
    for family, kind, proto, _, address in _socket.getaddrinfo(name, port, 0, _socket.SOCK_STREAM):
        sock = _socket.socket(family, kind, proto)
        try:
            sock.connect(address)
        except OSError as exc:
            sock.close()
            error = exc
            continue
        sock.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, 1)
        return sock
    raise error or OSError(f"getaddrinfo({host!r}) returned no address")


def reader(sock: Socket, buffering: int) -> io.BufferedReader:
    """A buffered binary reader on `sock`; closing it leaves the socket open."""
    return io.BufferedReader(io.FileIO(sock.fileno(), "rb", closefd=False), buffering)
