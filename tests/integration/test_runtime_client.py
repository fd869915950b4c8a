"""The function as Lambda runs it: AWS's runtime interface client (awslambdaric) loads the handler
string from the image's task folder and talks to the Lambda Runtime API, served here by a small
HTTP server on loopback. Two warm invocations convert; a bad object is answered as a rejection
(a response, so Lambda does not retry); a failure a retry may fix reaches /error with its type; a
missing setting reaches /init/error when the container starts; every log line of an invocation
carries its request id."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from devtools.lambda_image import ROOT, ImageSpec
from devtools.local_aws import LocalAws
from devtools.readback import lavfi_video, make
from tests.integration.stack import Stack, make_stack

PREFIX = "/2018-06-01/runtime"


@dataclass
class RuntimeApi:
    """The Runtime API: hands out queued events, records what the function answers."""

    events: queue.Queue[tuple[str, dict[str, Any], Callable[[], None]]] = field(default_factory=queue.Queue)
    answers: queue.Queue[tuple[str, str, dict[str, Any], dict[str, str]]] = field(default_factory=queue.Queue)
    stopping: threading.Event = field(default_factory=threading.Event)

    def handler(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                assert self.path == f"{PREFIX}/invocation/next", self.path
                while not api.stopping.is_set():
                    try:
                        request_id, event, before = api.events.get(timeout=0.2)
                    except queue.Empty:
                        continue
                    before()
                    body = json.dumps(event).encode()
                    self.send_response(200)
                    # awslambdaric's native client crashes (SIGSEGV) on a next-invocation answer
                    # without a Content-Type: send every header the real Runtime API sends.
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Lambda-Runtime-Trace-Id", "Root=1-5e988ea8-0123456789abcdef01234567;Sampled=0")
                    self.send_header("Lambda-Runtime-Aws-Request-Id", request_id)
                    self.send_header("Lambda-Runtime-Deadline-Ms", str(int((time.time() + 900) * 1000)))
                    self.send_header("Lambda-Runtime-Invoked-Function-Arn",
                                     "arn:aws:lambda:us-east-1:000000000000:function:avi2mp4")  # fmt: skip
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                parts = self.path.removeprefix(PREFIX + "/").split("/")
                kind, request_id = (parts[2], parts[1]) if parts[0] == "invocation" else ("init-error", "")
                api.answers.put((kind, request_id, json.loads(body or b"{}"), dict(self.headers)))
                self.send_response(202)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        return Handler


@pytest.fixture
def runtime_api() -> Iterator[tuple[RuntimeApi, str]]:
    api = RuntimeApi()
    server = ThreadingHTTPServer(("127.0.0.1", 0), api.handler())
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield api, f"127.0.0.1:{server.server_address[1]}"
    api.stopping.set()
    server.shutdown()


@pytest.fixture(scope="module")
def runtime_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """awslambdaric, resolved for the image's platform, where the image keeps it (not the task root)."""
    target = tmp_path_factory.mktemp("var-runtime")
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--target", str(target),
         "-r", str(ROOT / "tests" / "runtime-client-requirements.txt"), *ImageSpec.read().platform().pip_args()],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return target


def start_function(task_root: Path, runtime: Path, api: str, env: dict[str, str]) -> subprocess.Popen[str]:
    """``python -m awslambdaric <CMD>`` as the image's entry point runs it, from the task root."""
    handler = ImageSpec.read().handler
    return subprocess.Popen(
        [sys.executable, "-I", "-S", "-c",
         f"import sys, runpy; sys.path[:0] = [{str(task_root)!r}, {str(runtime)!r}]; "
         f"sys.argv = ['awslambdaric', {handler!r}]; runpy.run_module('awslambdaric', run_name='__main__')"],
        cwd=task_root, env={"PATH": os.environ["PATH"], "AWS_LAMBDA_RUNTIME_API": api,
                            "LAMBDA_TASK_ROOT": str(task_root), "AWS_LAMBDA_FUNCTION_NAME": "avi2mp4", **env},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def function_env(aws: LocalAws, stack: Stack) -> dict[str, str]:
    s = stack.settings
    return {**aws.env, "VIDEO_BUCKET": s.video_bucket, "IMAGE_BUCKET": s.image_bucket,
            "IDEMPOTENCY_TABLE": s.idempotency_table, "TMP_DIR": str(s.tmp_dir)}  # fmt: skip


def nothing() -> None:
    pass


def test_the_runtime_interface_client_runs_the_handler(
    built_task_root: Path, runtime_dir: Path, aws: LocalAws, tmp_path: Path, runtime_api: tuple[RuntimeApi, str]
) -> None:
    api, address = runtime_api
    stack = make_stack(aws, tmp_path)
    clip = make(tmp_path / "a.avi", *lavfi_video(0.4), "-c:v", "mjpeg")
    bad = tmp_path / "bad.avi"
    bad.write_bytes(b"RIFF\x00\x00\x00\x00AVI LIST" + b"\x00" * 500)
    ids = [str(uuid.uuid4()) for _ in range(4)]
    table = stack.settings.idempotency_table
    api.events.put((ids[0], stack.upload(clip, "cams/one.avi"), nothing))
    api.events.put((ids[1], stack.upload(clip, "cams/two.avi"), nothing))
    api.events.put((ids[2], stack.upload(bad, "cams/bad.avi"), nothing))

    def table_gone() -> None:  # a failure a retry may fix: the idempotency table is gone, for now
        aws.dynamodb().delete_table(TableName=table)

    api.events.put((ids[3], stack.upload(clip, "cams/four.avi"), table_gone))

    function = start_function(built_task_root, runtime_dir, address, function_env(aws, stack))
    answers: list[tuple[str, str, dict[str, Any], dict[str, str]]] = []
    try:
        while len(answers) < len(ids):
            answers.append(api.answers.get(timeout=120))
    except queue.Empty:
        pass
    finally:
        function.kill()
        stdout, stderr = function.communicate()

    assert [(kind, request_id) for kind, request_id, _, _ in answers] == [
        ("response", ids[0]),
        ("response", ids[1]),
        ("response", ids[2]),
        ("error", ids[3]),
    ], stderr[-3000:]
    assert answers[0][2]["done"][0]["status"] == "converted" and answers[1][2]["done"][0]["status"] == "converted"
    assert answers[2][2]["rejected"][0]["reason"].startswith(("UnreadableVideo", "NoVideoStream", "NoDecodable"))
    error = answers[3][2]
    assert error["errorType"] == "ConversionFailed" and "cams/four.avi" in error["errorMessage"]
    lines = [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]
    logs = [line for line in lines if "level" in line]  # the rest are metrics (embedded metric format)
    assert logs, stderr[-2000:]
    assert all(line.get("function_request_id") in ids for line in logs), "every log line carries its request id"
    assert {line["function_request_id"] for line in logs} == set(ids)


def test_a_missing_setting_fails_the_init(built_task_root: Path, runtime_dir: Path, aws: LocalAws,
                                          tmp_path: Path, runtime_api: tuple[RuntimeApi, str]) -> None:  # fmt: skip
    api, address = runtime_api
    env = function_env(aws, make_stack(aws, tmp_path))
    del env["IDEMPOTENCY_TABLE"]

    function = start_function(built_task_root, runtime_dir, address, env)
    try:
        kind, _, error, _ = api.answers.get(timeout=60)
    finally:
        function.kill()
        function.communicate()

    assert kind == "init-error"
    assert error["errorType"] == "ConfigError" and "IDEMPOTENCY_TABLE" in error["errorMessage"]
