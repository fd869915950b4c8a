"""The Lambda Invoke API on loopback, running the real entry point (``handler.app.lambda_handler``)
in this process: what backfill and redrive call when there is no deployed function. Each invoke
runs to its end before the answer (202 for an asynchronous one, as Lambda gives), so a caller that
waits for the answer sees the work done."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

from devtools.local_aws import local_context

Handler = Callable[[dict[str, Any]], Any]
FailureDestination = Callable[[str, dict[str, Any], dict[str, Any]], None]


class LocalLambda:
    """``routes`` maps function names to handlers (the state machine's functions); any other name
    runs ``handler.app.lambda_handler``. ``on_failure(function, event, error)`` hears of each
    asynchronous invoke that failed, as Lambda's on-failure destination would."""

    def __init__(self, routes: dict[str, Handler] | None = None, on_failure: FailureDestination | None = None) -> None:
        self.routes, self.on_failure = routes or {}, on_failure
        self.invocations: list[dict[str, Any]] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.endpoint = f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> LocalLambda:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        local = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                from handler.app import lambda_handler

                event = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                local.invocations.append(event)
                asynchronous = self.headers.get("X-Amz-Invocation-Type") == "Event"
                # /2015-03-31/functions/<name or ARN>/invocations
                name = unquote(self.path.split("/functions/")[-1].split("/")[0]).split("function:")[-1].split(":")[0]
                route = local.routes.get(name)
                try:
                    result = route(event) if route else lambda_handler(event, local_context())
                    error = None
                except Exception as exc:  # Lambda reports a function error in a header
                    result, error = {"errorType": type(exc).__name__, "errorMessage": str(exc)}, "Unhandled"
                if error and asynchronous and local.on_failure is not None:
                    local.on_failure(name, event, result)
                body = b"" if asynchronous else json.dumps(result).encode()
                self.send_response(202 if asynchronous else 200)
                if error and not asynchronous:
                    self.send_header("X-Amz-Function-Error", error)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        return Handler
