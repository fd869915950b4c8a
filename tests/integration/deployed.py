"""The stack as deployed, on the local server: the template's state machine run by moto's Step
Functions interpreter, its Lambda tasks invoked over the Invoke API on loopback and answered by the
real entry points (``lambda_handler``, ``clip_handler``, ``finish_handler``), configured by their
environment as in Lambda. Only the invoke is routed; the interpreter, S3 and DynamoDB are real
servers."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from avi2mp4.conversion import owner
from devtools.local_aws import LocalAws, local_context
from devtools.local_lambda import LocalLambda
from handler import app
from tests.integration.stack import Stack, make_stack

if TYPE_CHECKING:
    from mypy_boto3_stepfunctions import SFNClient

ROOT = Path(__file__).resolve().parents[2]
ASL = ROOT / "statemachine" / "clips.asl.json"
ACCOUNT_ARN = "arn:aws:lambda:us-east-1:000000000000:function"
# Scaled down: 1 s clips, split after 2 s, a JPEG every 3rd frame. The logic is that of 120/240/10.
PIPELINE_ENV = {"CLIP_SECONDS": "1", "SPLIT_AFTER_SECONDS": "2", "FRAME_STEP": "3"}


def definition(max_concurrency: int = 4) -> str:
    text = ASL.read_text()
    for name, value in {"MaxConcurrency": str(max_concurrency), "ClipFunctionArn": f"{ACCOUNT_ARN}:avi2mp4-clip",
                        "FinishFunctionArn": f"{ACCOUNT_ARN}:avi2mp4-finish",
                        "ConvertFunctionArn": f"{ACCOUNT_ARN}:avi2mp4-convert"}.items():  # fmt: skip
        text = text.replace("${" + name + "}", value)
    return text


class Deployed:
    """A stack whose function hands long recordings to a state machine on the local server."""

    def __init__(self, aws: LocalAws, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        aws.run_state_machines()  # before anything is created: the switch starts a fresh backend
        self.sfn: SFNClient = aws.stepfunctions()
        role = "arn:aws:iam::000000000000:role/sfn"
        self.arn = self.sfn.create_state_machine(name=f"clips-{tmp_path.name[-20:]}", definition=definition(),
                                                 roleArn=role)["stateMachineArn"]  # fmt: skip
        base = make_stack(aws, tmp_path)
        s = base.settings
        env = {**aws.env, **PIPELINE_ENV, "VIDEO_BUCKET": s.video_bucket, "IMAGE_BUCKET": s.image_bucket,
               "IDEMPOTENCY_TABLE": s.idempotency_table, "TMP_DIR": str(s.tmp_dir),
               "STATE_MACHINE_ARN": self.arn, "EVENT_BUS_NAME": s.event_bus_name}  # fmt: skip
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        app.default_runtime.cache_clear()
        runtime = app.default_runtime()
        self.stack = Stack(aws, base.source, runtime.settings, base.s3, runtime, base.events_queue)
        self.failures: dict[int, list[Exception]] = {}
        """clip -> errors its next conversions raise (inside the conversion, as a real failure does)"""
        self.after_clip: Callable[[int], None] | None = None
        """Called after each clip job's conversion stored its outputs (to tamper with them)."""
        self.functions = LocalLambda({
            "avi2mp4-clip": lambda e: app.clip_handler(e, local_context()),
            "avi2mp4-finish": lambda e: app.finish_handler(e, local_context()),
            "avi2mp4-convert": lambda e: app.lambda_handler(e, local_context()),
        })  # fmt: skip
        monkeypatch.setenv("MOTO_PORT", self.functions.endpoint.rsplit(":", 1)[1])
        real_run_clip = owner.run_clip  # type: ignore[attr-defined]

        def run_clip(src: Any, plan: Any, clip: int, *args: Any, **kwargs: Any) -> Any:
            pending = self.failures.get(clip)
            if pending:
                raise pending.pop(0)
            report = real_run_clip(src, plan, clip, *args, **kwargs)
            if self.after_clip is not None:
                self.after_clip(clip)
            return report

        monkeypatch.setattr(owner, "run_clip", run_clip)

    def invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        """The S3-triggered function, as Lambda invokes it."""
        answer: dict[str, Any] = app.lambda_handler(event, local_context())
        return answer

    def wait(self, execution: str, seconds: float = 180) -> dict[str, Any]:
        """The execution's end state: moto runs it on a thread of the server; poll its status."""
        deadline = time.monotonic() + seconds
        while True:
            described = self.sfn.describe_execution(executionArn=execution)
            if described["status"] != "RUNNING" or time.monotonic() > deadline:
                return dict(described)
            time.sleep(0.2)

    def clip_invocations(self) -> list[int]:
        return sorted(e["clip"] for e in self.functions.invocations if e.get("task") == "clip")

    def executions(self) -> list[dict[str, Any]]:
        return [dict(e) for e in self.sfn.list_executions(stateMachineArn=self.arn)["executions"]]

    def s3_body(self, bucket: str, key: str) -> bytes:
        return self.stack.s3.get_object(Bucket=bucket, Key=key)["Body"].read()

    def manifest(self, key: str) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.s3_body(self.stack.settings.video_bucket, key))
        return data


@pytest.fixture
def deployed(aws: LocalAws, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Deployed]:
    d = Deployed(aws, tmp_path, monkeypatch)
    try:
        with d.functions:
            yield d
    finally:
        app.default_runtime.cache_clear()
