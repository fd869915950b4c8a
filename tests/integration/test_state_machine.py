"""The clip-job path as deployed: template's state machine definition run by moto's Step Functions
interpreter (on the local server), its Lambda tasks invoked over the Invoke API on loopback and
answered by our handlers. Only the invoke is routed; the interpreter, S3 and DynamoDB are real
servers. What the interpreter cannot show (Distributed Map's scale) is asserted on the ASL."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from avi2mp4.errors import NotCuttable, StorageError, UnsupportedVideo
from avi2mp4.parallel import clip_job
from avi2mp4.settings import PipelineConfig
from devtools.local_aws import LocalAws, LocalContext
from devtools.local_lambda import LocalLambda
from devtools.readback import lavfi_audio, lavfi_video, make
from handler import clip_steps
from handler.app import build_runtime, handle_one_pass
from handler.clip_steps import clean_up_task, execution_name, finish_task, run_clip_task
from handler.process_object import TimeBudget
from tests.integration.stack import Stack, make_stack

if TYPE_CHECKING:
    from mypy_boto3_stepfunctions import SFNClient

ROOT = Path(__file__).resolve().parents[2]
ASL = ROOT / "statemachine" / "clips.asl.json"
CFG = PipelineConfig(clip_seconds=1.0, split_after_seconds=2.0, frame_step=3)
ACCOUNT_ARN = "arn:aws:lambda:us-east-1:000000000000:function"


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
        arn = self.sfn.create_state_machine(name=f"clips-{tmp_path.name[-20:]}", definition=definition(),
                                            roleArn=role)["stateMachineArn"]  # fmt: skip
        base = make_stack(aws, tmp_path, CFG)
        settings = replace(base.settings, state_machine_arn=arn)
        self.stack = Stack(aws, base.source, settings, base.s3,
                           build_runtime(settings, s3=base.s3, dynamodb=aws.dynamodb(), sfn=self.sfn))  # fmt: skip
        self.failures: dict[int, list[Exception]] = {}  # clip -> errors its next invocations raise
        budget = TimeBudget(LocalContext().get_remaining_time_in_millis, 5)
        self.functions = LocalLambda({
            "avi2mp4-clip": self._clip,
            "avi2mp4-finish": lambda e: (finish_task if e["action"] == "finish" else clean_up_task)(
                e, settings, base.s3),
            "avi2mp4-convert": lambda e: handle_one_pass(e["one_pass"], LocalContext(), self.stack.runtime),  # type: ignore[arg-type]
        })  # fmt: skip
        self._budget = budget
        monkeypatch.setenv("MOTO_PORT", self.functions.endpoint.rsplit(":", 1)[1])

    def _clip(self, event: dict[str, Any]) -> Any:
        pending = self.failures.get(event["clip"])
        if pending:
            raise pending.pop(0)
        return run_clip_task(event, self.stack.settings, self.stack.s3, self._budget)

    def wait(self, execution: str, seconds: float = 180) -> dict[str, Any]:
        """The execution's end state: moto runs it on a thread of the server; poll its status."""
        deadline = time.monotonic() + seconds
        while True:
            described = self.sfn.describe_execution(executionArn=execution)
            if described["status"] != "RUNNING" or time.monotonic() > deadline:
                return dict(described)
            time.sleep(0.2)

    def clip_invocations(self) -> list[int]:
        return sorted(e["clip"] for e in self.functions.invocations if "clip" in e)


@pytest.fixture
def deployed(aws: LocalAws, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Deployed]:
    d = Deployed(aws, tmp_path, monkeypatch)
    with d.functions:
        yield d


def _recording(tmp_path: Path) -> Path:
    return make(tmp_path / "long.avi", *lavfi_video(5.2), *lavfi_audio(5.2), "-c:v", "mjpeg", "-c:a", "pcm_s16le")


def test_long_recording_goes_through_the_state_machine(deployed: Deployed, tmp_path: Path) -> None:
    stack = deployed.stack
    event = stack.upload(_recording(tmp_path), "cams/long.avi")

    first = stack.invoke(event)
    again = stack.invoke(event)  # S3 delivers twice: the idempotency record answers

    (result,) = first["done"]
    assert result["status"] == "handed_off" and again["done"] == first["done"]
    ended = deployed.wait(result["execution"])
    assert ended["status"] == "SUCCEEDED", ended
    executions = deployed.sfn.list_executions(stateMachineArn=stack.settings.state_machine_arn)["executions"]
    assert len(executions) == 1
    assert executions[0]["name"] == execution_name(
        f"{stack.source}/cams/long.avi#{event['Records'][0]['s3']['object']['versionId']}"
    )
    videos = stack.keys(stack.settings.video_bucket)
    assert videos == ["cams/long.manifest.json", *[f"cams/long_part{i:03d}.mp4" for i in range(6)],
                      *[f"cams/long_review{i:03d}.jpg" for i in range(6)]]  # fmt: skip
    manifest = json.loads(stack.s3.get_object(Bucket=stack.settings.video_bucket, Key=videos[0])["Body"].read())
    assert manifest["conversion"] == {"path": "parallel", "clip_jobs": 6}
    assert [c["first_frame"] for c in manifest["clips"]] == [0, 25, 50, 75, 100, 125]
    assert len(stack.keys(stack.settings.image_bucket)) == len(manifest["frames"]) > 0
    assert stack.keys(stack.source) == [], "the source goes only after finish verified everything"
    assert deployed.clip_invocations() == list(range(6))


def test_a_transient_clip_failure_is_retried(deployed: Deployed, tmp_path: Path) -> None:
    stack = deployed.stack
    deployed.failures[2] = [StorageError("S3 said 503 SlowDown")]
    (result,) = stack.invoke(stack.upload(_recording(tmp_path), "retry.avi"))["done"]

    ended = deployed.wait(result["execution"])

    assert ended["status"] == "SUCCEEDED", ended
    assert deployed.clip_invocations() == [0, 1, 2, 2, 3, 4, 5]
    assert len([k for k in stack.keys(stack.settings.video_bucket) if k.endswith(".mp4")]) == 6


def test_a_clip_failing_for_good_removes_every_output_and_keeps_the_source(deployed: Deployed,
                                                                            tmp_path: Path) -> None:  # fmt: skip
    stack = deployed.stack
    deployed.failures[3] = [UnsupportedVideo("clip 3 cannot be decoded")]
    (result,) = stack.invoke(stack.upload(_recording(tmp_path), "broken.avi"))["done"]

    ended = deployed.wait(result["execution"])

    assert ended["status"] == "FAILED" and ended.get("error") == "ConversionFailed", ended
    assert deployed.clip_invocations().count(3) == 1, "bad input is not retried"
    assert stack.keys(stack.settings.video_bucket) == []
    assert stack.keys(stack.settings.image_bucket) == []
    assert stack.keys(stack.source) == ["broken.avi"]
    history = deployed.sfn.get_execution_history(executionArn=result["execution"])["events"]
    # The parent execution names the failed clip: the Map's own error, or (moto's Distributed Map
    # lets a failed item through) finish's refusal to go on without clip 3's report.
    told = json.dumps(history, default=str)
    assert "clip 3 cannot be decoded" in told or "clip job 3 left no report" in told


def test_the_definition_scales_out_and_passes_keys_not_lists() -> None:
    asl = json.loads(definition(240))
    clips = asl["States"]["Clips"]
    assert clips["ItemProcessor"]["ProcessorConfig"]["Mode"] == "DISTRIBUTED"  # inline Map stops at 40
    assert clips["MaxConcurrency"] == 240
    assert clips["ResultPath"] is None, "per-clip results stay in S3, not in the 256 KB state"
    retried = clips["ItemProcessor"]["States"]["Clip"]["Retry"][0]["ErrorEquals"]
    assert "StorageError" in retried and "UnsupportedVideo" not in retried and "States.ALL" not in retried
    assert clips["Catch"][0]["Next"] == "CleanUp" and asl["States"]["Finish"]["Catch"][0]["Next"] == "CleanUp"


def test_a_recording_the_clip_jobs_cannot_cut_is_converted_in_one_pass(
    deployed: Deployed, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack = deployed.stack
    real_run_clip = clip_job.run_clip

    def run_clip(src: Any, plan: Any, clip: int, *args: Any, **kwargs: Any) -> Any:
        if clip == 1:  # as a clip job does when decoding disagrees with the index
            raise NotCuttable("frame 30 follows frame 28: the frames cannot be numbered as one pass would")
        return real_run_clip(src, plan, clip, *args, **kwargs)

    monkeypatch.setattr(clip_steps, "run_clip", run_clip)
    (result,) = stack.invoke(stack.upload(_recording(tmp_path), "cams/uncut.avi"))["done"]

    ended = deployed.wait(result["execution"])

    assert ended["status"] == "SUCCEEDED", ended
    manifest = json.loads(stack.s3.get_object(Bucket=stack.settings.video_bucket,
                                              Key="cams/uncut.manifest.json")["Body"].read())  # fmt: skip
    assert manifest["conversion"]["path"] == "sequential"
    assert "cannot be numbered" in manifest["conversion"]["why"]
    assert len(manifest["clips"]) == 6 and manifest["source"]["frames_decoded"] == 130
    assert not [k for k in stack.keys(stack.settings.video_bucket) if ".work/" in k]
    assert stack.keys(stack.source) == [], "converted in one pass, then deleted"
