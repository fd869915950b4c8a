"""The clip-job path as deployed (``tests.integration.deployed``): the template's state machine run by
moto's Step Functions interpreter, its Lambda tasks answered by the real entry points. What the
interpreter cannot show (Distributed Map's scale) is asserted on the ASL."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from avi2mp4.errors import NotCuttable, StorageError, UnsupportedVideo, retryable_names
from devtools.readback import lavfi_audio, lavfi_video, make
from handler.step_functions import StepFunctionsRunner, execution_name
from tests.integration.deployed import Deployed, definition, deployed

__all__ = ["deployed"]

LAMBDA_SERVICE_ERRORS = ["Lambda.ServiceException", "Lambda.AWSLambdaException", "Lambda.SdkClientException",
                         "Lambda.TooManyRequestsException"]  # fmt: skip


def _recording(tmp_path: Path) -> Path:
    return make(tmp_path / "long.avi", *lavfi_video(5.2), *lavfi_audio(5.2), "-c:v", "mjpeg", "-c:a", "pcm_s16le")


def test_long_recording_goes_through_the_state_machine(deployed: Deployed, tmp_path: Path) -> None:
    stack = deployed.stack
    event = stack.upload(_recording(tmp_path), "cams/long.avi")

    first = deployed.invoke(event)
    again = deployed.invoke(event)  # S3 delivers twice: the idempotency record answers

    (result,) = first["done"]
    assert result["status"] == "handed_off" and again["done"] == first["done"]
    ended = deployed.wait(result["execution"])
    assert ended["status"] == "SUCCEEDED", ended
    executions = deployed.executions()
    assert len(executions) == 1
    identity = f"{stack.source}/cams/long.avi#{event['Records'][0]['s3']['object']['versionId']}"
    assert executions[0]["name"].startswith(execution_name(identity, "x")[:-1]) and len(executions[0]["name"]) <= 80
    videos = stack.keys(stack.settings.video_bucket)
    assert videos == ["cams/long.manifest.json", *[f"cams/long_part{i:03d}.mp4" for i in range(6)],
                      *[f"cams/long_review{i:03d}.jpg" for i in range(6)]]  # fmt: skip
    manifest = deployed.manifest(videos[0])
    assert manifest["conversion"] == {"path": "parallel", "clip_jobs": 6}
    assert [c["first_frame"] for c in manifest["clips"]] == [0, 25, 50, 75, 100, 125]
    assert len(stack.keys(stack.settings.image_bucket)) == len(manifest["frames"]) + 2 > 2  # JPEGs, tool files
    assert stack.keys(stack.source) == [], "the source goes only after finish verified everything"
    assert deployed.clip_invocations() == list(range(6))
    (completed,) = stack.events()  # one event, from finish, as one pass publishes it
    assert completed["detail-type"] == "Conversion Completed" and completed["detail"]["path"] == "clip_jobs"
    assert [c["location"] for c in completed["detail"]["clips"]] == [c["location"] for c in manifest["clips"]]
    assert completed["detail"]["manifest"] == f"s3://{stack.settings.video_bucket}/cams/long.manifest.json"
    # The run's end answers the event from now on: its duplicates get the conversion, not the hand-off.
    (settled,) = deployed.invoke(event)["done"]
    assert settled["status"] == "converted" and settled["manifest"].endswith("cams/long.manifest.json")


def test_a_transient_clip_failure_is_retried(deployed: Deployed, tmp_path: Path) -> None:
    stack = deployed.stack
    deployed.failures[2] = [StorageError("S3 said 503 SlowDown")]
    (result,) = deployed.invoke(stack.upload(_recording(tmp_path), "retry.avi"))["done"]

    ended = deployed.wait(result["execution"])

    assert ended["status"] == "SUCCEEDED", ended
    assert deployed.clip_invocations() == [0, 1, 2, 2, 3, 4, 5]
    assert len([k for k in stack.keys(stack.settings.video_bucket) if k.endswith(".mp4")]) == 6
    assert not [k for k in stack.keys(stack.settings.video_bucket) if ".work/" in k]


def test_a_long_recording_that_fails_for_good_is_rejected_as_one_pass_rejects(deployed: Deployed,
                                                                              tmp_path: Path) -> None:  # fmt: skip
    stack = deployed.stack
    deployed.failures[3] = [UnsupportedVideo("clip 3 cannot be decoded")]
    event = stack.upload(_recording(tmp_path), "cams/broken.avi")
    (result,) = deployed.invoke(event)["done"]

    ended = deployed.wait(result["execution"])

    assert ended["status"] == "FAILED" and ended.get("error") == "ConversionFailed", ended
    assert deployed.clip_invocations().count(3) == 1, "bad input is not retried"
    # The rejection record, where the manifest would be; no output; the source kept and tagged.
    assert stack.keys(stack.settings.video_bucket) == ["cams/broken.rejected.json"]
    assert stack.keys(stack.settings.image_bucket) == []
    record = deployed.manifest("cams/broken.rejected.json")
    assert record["error"] == "UnsupportedVideo" and "clip 3 cannot be decoded" in record["reason"]
    assert stack.keys(stack.source) == ["cams/broken.avi"]
    tags = stack.s3.get_object_tagging(Bucket=stack.source, Key="cams/broken.avi")["TagSet"]
    assert tags == [{"Key": "avi2mp4-rejected", "Value": "UnsupportedVideo"}]
    (rejected,) = stack.events()
    assert rejected["detail-type"] == "Conversion Rejected" and rejected["detail"]["error"] == "UnsupportedVideo"
    assert rejected["detail"]["record"] == f"s3://{stack.settings.video_bucket}/cams/broken.rejected.json"
    # The idempotency outcome: a duplicate of the event is answered "rejected", with the reason.
    (again,) = deployed.invoke(event)["rejected"]
    assert again["status"] == "rejected" and again["reason"].startswith("UnsupportedVideo: clip 3")
    assert len(deployed.executions()) == 1


def test_the_definition_scales_out_and_passes_keys_not_lists() -> None:
    asl = json.loads(definition(240))
    clips = asl["States"]["Clips"]
    assert clips["ItemProcessor"]["ProcessorConfig"]["Mode"] == "DISTRIBUTED"  # inline Map stops at 40
    assert clips["MaxConcurrency"] == 240
    assert clips["ResultPath"] is None, "per-clip results stay in S3, not in the 256 KB state"
    assert clips["Catch"][0]["Next"] == "CleanUp" and asl["States"]["Finish"]["Catch"][0]["Next"] == "CleanUp"


def _tasks(states: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found = {}
    for name, state in states.items():
        if state["Type"] == "Task":
            found[name] = state
        for nested in (state.get("ItemProcessor") or {}).get("States", {}).items():
            found.update(_tasks(dict([nested])))
    return found


def test_every_task_retries_exactly_what_the_error_tree_says_a_retry_may_fix() -> None:
    tasks = _tasks(json.loads(definition())["States"])
    assert set(tasks) == {"Clip", "Finish", "CleanUp", "OnePass"}
    for name, task in tasks.items():
        for retry in task.get("Retry", []):
            assert sorted(retry["ErrorEquals"]) == sorted(retryable_names() + LAMBDA_SERVICE_ERRORS), (
                f"{name}: its Retry must name avi2mp4.errors.retryable_names() (and Lambda's service errors)"
            )
    assert "Retry" in tasks["Clip"] and "Retry" in tasks["Finish"] and "Retry" in tasks["CleanUp"]
    # Every task names its run from the context object, never from the execution's input.
    payloads = [tasks[name]["Parameters"]["Payload"] for name in ("Finish", "CleanUp", "OnePass")]
    payloads.append(json.loads(definition())["States"]["Clips"]["ItemSelector"])
    assert all(p["run.$"] == "$$.Execution.Name" for p in payloads)
    assert {p["task"] for p in payloads} == {"finish", "clean_up", "one_pass", "clip"}


def test_a_recording_the_clip_jobs_cannot_cut_is_converted_in_one_pass(deployed: Deployed, tmp_path: Path) -> None:
    stack = deployed.stack
    # As a clip job does when decoding disagrees with the index:
    deployed.failures[1] = [NotCuttable("frame 30 follows frame 28: the frames cannot be numbered as one pass would")]
    event = stack.upload(_recording(tmp_path), "cams/uncut.avi")
    (result,) = deployed.invoke(event)["done"]

    ended = deployed.wait(result["execution"])

    assert ended["status"] == "SUCCEEDED", ended
    manifest = deployed.manifest("cams/uncut.manifest.json")
    assert manifest["conversion"]["path"] == "sequential"
    assert "cannot be numbered" in manifest["conversion"]["why"]
    assert len(manifest["clips"]) == 6 and manifest["source"]["frames_decoded"] == 130
    assert not [k for k in stack.keys(stack.settings.video_bucket) if ".work/" in k or ".claim" in k]
    assert stack.keys(stack.source) == [], "converted in one pass, then deleted"
    (settled,) = deployed.invoke(event)["done"]
    assert settled["status"] == "converted", "the one pass's outcome answers the event"


@pytest.mark.parametrize("state", ["finished", "in progress"])
def test_a_crafted_execution_touches_nothing(deployed: Deployed, tmp_path: Path, state: str,
                                             monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    """Anyone allowed states:StartExecution may start one naming any recording: its tasks find no
    plan of theirs, so nothing is removed, rewritten or published."""
    stack = deployed.stack
    video, image = stack.settings.video_bucket, stack.settings.image_bucket
    event = stack.upload(_recording(tmp_path), "cams/done.avi")
    version = event["Records"][0]["s3"]["object"]["versionId"]
    if state == "finished":
        (result,) = deployed.invoke(event)["done"]
        assert deployed.wait(result["execution"])["status"] == "SUCCEEDED"
    else:  # the plan and the claim of a run under way (its execution held back)
        with monkeypatch.context() as held:
            held.setattr(StepFunctionsRunner, "run", lambda self, plan: f"{deployed.arn}:held")
            (result,) = deployed.invoke(event)["done"]
        assert result["status"] == "handed_off"
    before = {(b, k): stack.s3.get_object(Bucket=b, Key=k)["Body"].read() for b in (video, image, stack.source)
              for k in stack.keys(b)}  # fmt: skip

    crafted = deployed.sfn.start_execution(stateMachineArn=deployed.arn, name="crafted", input=json.dumps(
        {"bucket": stack.source, "key": "cams/done.avi", "version_id": version, "clips": [0, 1, 5]}))  # fmt: skip
    ended = deployed.wait(crafted["executionArn"])

    assert ended["status"] == "FAILED", ended
    after = {(b, k): stack.s3.get_object(Bucket=b, Key=k)["Body"].read() for b in (video, image, stack.source)
             for k in stack.keys(b)}  # fmt: skip
    assert after == before
    history = json.dumps(deployed.sfn.get_execution_history(executionArn=crafted["executionArn"]), default=str)
    assert "ForeignRun" in history


def test_a_one_pass_payload_runs_every_guard(deployed: Deployed, tmp_path: Path) -> None:
    """The state machine's one-pass entry, invoked by hand on a labelled JPEG in the image bucket or
    on an AVI no run of ours planned: refused, and nothing converted or deleted."""
    stack = deployed.stack
    image = stack.settings.image_bucket
    stack.s3.put_object(Bucket=image, Key="cams/rec/rec_f000010.jpg", Body=b"\xff\xd8labelled\xff\xd9")
    stack.upload(_recording(tmp_path), "cams/other.avi")
    version = stack.s3.head_object(Bucket=stack.source, Key="cams/other.avi")["VersionId"]

    for bucket, key, version_id in ((image, "cams/rec/rec_f000010.jpg", None), (image, "x.avi", None),
                                    (stack.source, "cams/other.avi", version)):  # fmt: skip
        with pytest.raises(Exception, match=r"no plan|refused") as info:
            deployed.invoke({"task": "one_pass", "bucket": bucket, "key": key, "version_id": version_id,
                             "run": "avi2mp4-forged"})  # fmt: skip
        assert type(info.value).__name__ == "ForeignRun"

    assert stack.keys(image) == ["cams/rec/rec_f000010.jpg"]
    assert stack.keys(stack.source) == ["cams/other.avi"]
    assert stack.keys(stack.settings.video_bucket) == []


@pytest.mark.parametrize("tamper", ["jpeg key", "clip key", "frame range", "clip number"])
def test_a_tampered_clip_report_fails_the_run_and_touches_nothing_else(deployed: Deployed, tmp_path: Path,
                                                                       tamper: str) -> None:  # fmt: skip
    stack = deployed.stack
    video, image = stack.settings.video_bucket, stack.settings.image_bucket
    # Another recording's outputs, which a tampered report names.
    stack.s3.put_object(Bucket=image, Key="other/other_f000000.jpg", Body=b"not ours")
    stack.s3.put_object(Bucket=video, Key="other_part000.mp4", Body=b"not ours either")
    report_key = "cams/tampered.work/clip001.json"

    def tamper_with(clip: int) -> None:
        if clip != 1:
            return
        report = json.loads(stack.s3.get_object(Bucket=video, Key=report_key)["Body"].read())
        if tamper == "jpeg key":
            report["jpegs"][0]["key"] = "other/other_f000000.jpg"
        elif tamper == "clip key":
            report["video"] = {"key": "other_part000.mp4", "size": 15, "sha256": "0" * 64}
        elif tamper == "frame range":
            report["first_frame"], report["last_frame"] = 0, 500
        else:
            report["clip"] = 4
        stack.s3.put_object(Bucket=video, Key=report_key, Body=json.dumps(report).encode())

    deployed.after_clip = tamper_with
    (result,) = deployed.invoke(stack.upload(_recording(tmp_path), "cams/tampered.avi"))["done"]

    ended = deployed.wait(result["execution"])

    assert "other/other_f000000.jpg" in stack.keys(image)
    assert deployed.s3_body(image, "other/other_f000000.jpg") == b"not ours"
    if tamper == "frame range":  # frames where the index did not put them: one pass converts it
        assert ended["status"] == "SUCCEEDED", ended
        manifest = deployed.manifest("cams/tampered.manifest.json")
        assert (
            manifest["conversion"]["path"] == "sequential"
            and "clip 1 holds frames 0..500" in manifest["conversion"]["why"]
        )
        assert "other_part000.mp4" not in json.dumps(manifest) and "other/" not in json.dumps(manifest)
        assert stack.keys(stack.source) == []
        return
    assert ended["status"] == "FAILED", ended
    assert stack.keys(image) == ["other/other_f000000.jpg"]
    assert stack.keys(video) == ["cams/tampered.rejected.json", "other_part000.mp4"]
    record = deployed.manifest("cams/tampered.rejected.json")
    assert record["error"] == "VerificationError" and "does not match the plan" in record["reason"]
    assert stack.keys(stack.source) == ["cams/tampered.avi"]


def test_a_delivery_after_a_failed_run_starts_a_new_run(deployed: Deployed, tmp_path: Path) -> None:
    """S3 503s throughout a clip job: the run fails and cleans up. The same event delivered again
    (redrive, or after the record expired) used to meet ExecutionAlreadyExists, answer "handed_off"
    and strand the source for 90 days; it starts a new run now."""
    stack = deployed.stack
    deployed.failures[2] = [StorageError("S3 said 503 SlowDown")] * 4  # the first try and its 3 retries
    event = stack.upload(_recording(tmp_path), "cams/again.avi")
    (first,) = deployed.invoke(event)["done"]
    assert deployed.wait(first["execution"])["status"] == "FAILED"
    assert stack.keys(stack.settings.video_bucket) == [], "no outputs, no work objects, no rejection"
    assert stack.keys(stack.source) == ["cams/again.avi"]

    (second,) = deployed.invoke(event)["done"]  # the failed run's end let the delivery count again

    assert second["status"] == "handed_off" and second["execution"] != first["execution"]
    assert deployed.wait(second["execution"])["status"] == "SUCCEEDED"
    assert stack.keys(stack.source) == [] and "cams/again.manifest.json" in stack.keys(stack.settings.video_bucket)


def test_a_refused_start_leaves_no_work_objects(deployed: Deployed, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    from botocore.exceptions import ClientError

    def refused(**kwargs: Any) -> Any:
        raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, "StartExecution")

    stack = deployed.stack
    runner = stack.runtime.runner
    assert isinstance(runner, StepFunctionsRunner)
    event = stack.upload(_recording(tmp_path), "cams/refused.avi")

    with monkeypatch.context() as throttled, pytest.raises(Exception, match="StorageError") as info:
        throttled.setattr(runner.sfn, "start_execution", refused)
        deployed.invoke(event)

    assert type(info.value).__name__ == "ConversionFailed"
    assert stack.keys(stack.settings.video_bucket) == [] and stack.keys(stack.source) == ["cams/refused.avi"]
    (retried,) = deployed.invoke(event)["done"]  # Lambda's retry: the record was removed with the failure
    assert deployed.wait(retried["execution"])["status"] == "SUCCEEDED"
