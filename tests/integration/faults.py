"""A fault-injecting HTTP proxy on loopback, in front of the local S3 and DynamoDB: what a real
service does to a client now and then, at a chosen rate, decided by a seed.

Faults (``KINDS``): a 500 InternalError and a 503 SlowDown that the service never saw, a connection
reset before any answer, an answer whose body is cut short, latency, and a 500 *after* the request
was carried out (a write stored, its answer lost). Whether a request is faulted is a function of the
seed, the request line and how many times that request line was seen, so a run's faults do not
depend on thread timing more than the requests' own order does.
"""

from __future__ import annotations

import hashlib
import http.client
import socket
import struct
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from urllib.parse import urlsplit

KINDS = ("500", "503", "reset", "cut", "latency", "lost_write")
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "te", "upgrade"}
_S3_ERROR = ("<?xml version='1.0' encoding='UTF-8'?><Error><Code>{code}</Code><Message>{message}</Message>"
             "<RequestId>FAULT</RequestId></Error>")  # fmt: skip


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    target: str
    """DynamoDB's ``X-Amz-Target`` (``DynamoDB_20120810.PutItem``), empty for S3."""
    seen: int
    """How many times this method and path came before."""

    @property
    def service(self) -> str:
        return "dynamodb" if self.target.startswith("DynamoDB") else "s3"


Rule = Callable[[Request], str | None]
"""A request -> the fault to inject (one of ``KINDS``) or None."""


def random_faults(rate: float, seed: int, kinds: tuple[str, ...] = KINDS) -> Rule:
    """Each request faulted with probability ``rate``, the kind drawn uniformly from ``kinds``."""

    def rule(request: Request) -> str | None:
        digest = hashlib.sha256(f"{seed}|{request.method}|{request.path}|{request.target}|{request.seen}".encode())
        draw = int.from_bytes(digest.digest()[:8], "big") / 2**64
        if draw >= rate:
            return None
        return kinds[int(draw / rate * len(kinds)) % len(kinds)]

    return rule


class FaultyProxy:
    """``endpoint`` forwards to ``upstream``; ``rule`` decides the faults (switch with ``rule = None``)."""

    def __init__(self, upstream: str, rule: Rule | None = None) -> None:
        self.upstream = urlsplit(upstream)
        self.rule = rule
        self.injected: Counter[str] = Counter()
        self.requests = 0
        self._seen: Counter[tuple[str, str, str]] = Counter()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self.endpoint = f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> FaultyProxy:
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self._server.shutdown()
        self._server.server_close()

    def decide(self, method: str, path: str, target: str) -> str | None:
        with self._lock:
            seen = self._seen[(method, path, target)]
            self._seen[(method, path, target)] += 1
            self.requests += 1
            fault = self.rule(Request(method, path, target, seen)) if self.rule else None
            if fault:
                self.injected[fault] += 1
            return fault


def _handler_for(proxy: FaultyProxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as botocore's pooled connections expect

        def log_message(self, format: str, *args: object) -> None:
            pass

        def _body(self) -> bytes:
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                parts: list[bytes] = []
                while True:
                    size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                    if size == 0:
                        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                            pass
                        return b"".join(parts)
                    parts.append(self.rfile.read(size))
                    self.rfile.readline()
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def _forward(self, body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
            upstream = proxy.upstream
            connection = http.client.HTTPConnection(upstream.hostname or "127.0.0.1", upstream.port, timeout=120)
            headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
            headers["Content-Length"] = str(len(body))
            try:
                connection.request(self.command, self.path, body=body, headers=headers)
                response = connection.getresponse()
                data = response.read()
                return response.status, response.getheaders(), data
            finally:
                connection.close()

        def _answer(self, status: int, headers: list[tuple[str, str]], body: bytes, cut: bool = False) -> None:
            self.send_response(status)
            for name, value in headers:
                if name.lower() in _HOP_BY_HOP or (name.lower() == "content-length" and self.command != "HEAD"):
                    continue
                self.send_header(name, value)
            if self.command != "HEAD":
                self.send_header("Content-Length", str(len(body)))
            if cut:
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body[: len(body) // 2] if cut else body)
            self.wfile.flush()

        def _error(self, status: int, code: str) -> None:
            if self.headers.get("X-Amz-Target", "").startswith("DynamoDB"):
                body = f'{{"__type":"com.amazonaws.dynamodb.v20120810#{code}","message":"injected"}}'.encode()
                kind = "application/x-amz-json-1.0"
            else:
                body = _S3_ERROR.format(code=code, message="injected").encode()
                kind = "application/xml"
            self._answer(status, [("Content-Type", kind)], body)

        def _reset(self) -> None:
            # SO_LINGER 0: close sends RST, as a load balancer dropping the connection does.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True

        def _handle(self) -> None:
            body = self._body()
            target = self.headers.get("X-Amz-Target", "")
            fault = proxy.decide(self.command, self.path, target)
            if fault == "500":
                return self._error(500, "InternalError" if not target else "InternalServerError")
            if fault == "503":
                return self._error(503, "SlowDown" if not target else "ServiceUnavailable")
            if fault == "reset":
                return self._reset()
            if fault == "latency":
                time.sleep(0.05 + 0.25 * (proxy.requests % 5) / 4)  # the fault itself: a slow answer
            status, headers, data = self._forward(body)
            if fault == "lost_write":
                return self._error(500, "InternalError" if not target else "InternalServerError")
            if fault == "cut":
                if self.command == "HEAD" or len(data) < 2:
                    return self._reset()
                return self._answer(status, headers, data, cut=True)
            return self._answer(status, headers, data)

        do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle  # noqa: N815 - http.server's names

    return Handler
