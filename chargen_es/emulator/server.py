"""The HTTP server: stdlib threads, HTTP/1.1 keep-alive, one write per small reply.

``ThreadingHTTPServer`` gives one thread per connection, which is what the SDK's pooled
keep-alive connections want; the request loop itself is ours (see ``_Handler``). Replies are written by hand (status line, headers and body
in one ``sendall`` when small) with ``TCP_NODELAY``, because the stdlib's two-write
pattern meets Nagle + delayed ACK and costs 40 ms per call on keep-alive connections.
Large bodies (downloads) go out as one ``sendall`` of the in-memory bytes.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from http.server import ThreadingHTTPServer
from pathlib import Path
from socketserver import StreamRequestHandler
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from chargen_es.emulator.app import App, Reply, Request
from chargen_es.emulator.clock import ShiftedClock, WallClock
from chargen_es.emulator.config import EmulatorConfig
from chargen_es.emulator.faults import parse_rules
from chargen_es.emulator.state import Store, atomic_write
from chargen_es.emulator.wire import decode, encode

_REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
            409: "Conflict", 429: "Too Many Requests", 499: "Client Closed Request",
            500: "Internal Server Error", 501: "Not Implemented", 502: "Bad Gateway",
            503: "Service Unavailable", 504: "Gateway Timeout"}
_SMALL = 64 * 1024
_MAX_LINE = 65536


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256

    def __init__(self, addr: tuple[str, int], app: App) -> None:
        self.app = app
        self.open_sockets: set[socket.socket] = set()
        self.sockets_lock = threading.Lock()
        super().__init__(addr, _Handler)

    def close_all(self) -> None:
        """Cut keep-alive connections, so a stopped emulator really stops answering."""
        with self.sockets_lock:
            socks = list(self.open_sockets)
        for sock in socks:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class _Handler(StreamRequestHandler):
    """A lean HTTP/1.1 request loop.

    ``BaseHTTPRequestHandler`` parses headers with ``email.parser``, which costs more than
    everything the emulator does with an upload; headers here are split by hand.
    """

    server: _Server
    close_connection = False

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.server.sockets_lock:
            self.server.open_sockets.add(self.connection)

    def finish(self) -> None:
        with self.server.sockets_lock:
            self.server.open_sockets.discard(self.connection)
        with contextlib.suppress(OSError):
            super().finish()

    def handle(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            while not self.close_connection:
                self._one()

    def _one(self) -> None:
        line = self.rfile.readline(_MAX_LINE)
        if not line.strip():
            self.close_connection = not line  # tolerate a stray CRLF between requests
            return
        parts = line.decode("latin-1").split()
        if len(parts) != 3 or not parts[2].startswith("HTTP/"):
            self.close_connection = True
            self._send(Reply(status=400, body=b'{"error":{"code":400,"message":"bad request line"}}'))
            return
        method, target, version = parts
        headers: dict[str, str] = {}
        while True:
            raw = self.rfile.readline(_MAX_LINE)
            if raw in (b"\r\n", b"\n", b""):
                break
            name, _, value = raw.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        conn = headers.get("connection", "").lower()
        self.close_connection = conn == "close" or (version == "HTTP/1.0" and conn != "keep-alive")
        if headers.get("expect", "").lower() == "100-continue":
            self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        body = self._body(headers)
        url = urlsplit(target)
        req = Request(method=method.upper(), path=url.path, query=dict(parse_qsl(url.query)),
                      headers=headers, body=body)
        reply = self.server.app.dispatch(req)
        if reply.drop:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        self._send(reply)

    def _body(self, headers: dict[str, str]) -> bytes:
        if headers.get("transfer-encoding", "").lower() == "chunked":
            out = bytearray()
            while True:
                size = int(self.rfile.readline(_MAX_LINE).split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(_MAX_LINE) not in (b"\r\n", b"\n", b""):
                        pass
                    return bytes(out)
                out += self.rfile.read(size)
                self.rfile.readline(_MAX_LINE)
        length = int(headers.get("content-length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, reply: Reply) -> None:
        lines = [f"HTTP/1.1 {reply.status} {_REASONS.get(reply.status, 'Error')}",
                 f"Content-Type: {reply.content_type}", f"Content-Length: {len(reply.body)}"]
        lines += [f"{k}: {v}" for k, v in reply.headers.items()]
        if self.close_connection:
            lines.append("Connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        if len(reply.body) <= _SMALL:
            self.wfile.write(head + reply.body)
        else:
            self.wfile.write(head)
            self.wfile.write(reply.body)


class Emulator:
    """The embedded emulator: a real HTTP server on loopback in a background thread."""

    def __init__(self, config: EmulatorConfig | None = None) -> None:
        self.config = config or EmulatorConfig()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._app: App | None = None

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("the emulator is not running")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the emulator is not running")
        return int(self._server.server_address[1])

    def start(self) -> Emulator:
        if self._server is not None:
            return self
        data_dir = Path(self.config.data_dir) if self.config.data_dir is not None else None
        clock = _clock(self.config, data_dir)
        store = Store(data_dir, clock)
        self._app = App(self.config, store, clock)
        self._server = _Server((self.config.host, self.config.port), self._app)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="chargen-emulator", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.close_all()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        assert self._app is not None
        self._app.close()
        self._app.store.save_counters()
        self._server = self._thread = self._app = None

    def _live_app(self) -> App:
        if self._app is None:
            raise RuntimeError("the emulator is not running")
        return self._app

    def stats(self) -> dict[str, Any]:
        """The same dict as ``GET /_emulator/stats``."""
        return self._live_app().store.stats()

    def set_faults(self, rules: list[dict[str, Any]]) -> None:
        """Replace the fault set, like ``POST /_emulator/faults``."""
        self._live_app().faults.replace(parse_rules(rules))

    @property
    def clock(self) -> ShiftedClock:
        """The emulator's clock (``advance``, ``set``, ``now``), as ``POST /_emulator/clock``."""
        return self._live_app().clock

    def advance(self, seconds: float) -> None:
        """Move the emulator's time forward, like ``POST /_emulator/clock {"advance_s": N}``."""
        self._live_app().clock.advance(seconds)

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _clock(config: EmulatorConfig, data_dir: Path | None) -> ShiftedClock:
    """The configured clock behind a shift; with ``--data`` the shift survives a restart."""
    base = config.clock or WallClock()
    if data_dir is None:
        return ShiftedClock(base)
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / "clock.json"
    offset = float(decode(path.read_bytes())["offset_s"]) if path.exists() else 0.0

    def save(value: float) -> None:
        atomic_write(path, encode({"offset_s": value}))

    return ShiftedClock(base, offset, save)
