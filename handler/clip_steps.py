"""The clip-job path in Lambda: hand a long recording to the state machine, and the state
machine's tasks (one clip, finish, clean up). Thin adapters around ``avi2mp4.parallel``.

The recording is read where it lies, by ranged GETs (``S3RangeFile``): a clip job's download,
memory and /tmp do not grow with the recording's length. Every task names the source version it
works on; a task on a version that is no longer current changes nothing.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError

from avi2mp4.errors import NotCuttable, VerificationError
from avi2mp4.outputs.manifest import SourceRef
from avi2mp4.outputs.names import OutputLayout
from avi2mp4.parallel.clip_job import run_clip
from avi2mp4.parallel.finish import clean_up, finish, load_plan, start
from avi2mp4.parallel.plan import Plan
from avi2mp4.storage.s3 import S3Store, SourceGone, SourceObject, delete_source, head_source
from avi2mp4.storage.s3_range import S3RangeFile
from handler import SERVICE, workdirs
from handler.settings import Settings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_stepfunctions import SFNClient

    from handler.process_object import TimeBudget

logger = Logger(service=SERVICE, child=True)

READAHEAD_BLOCKS = 4
"""1 MiB blocks fetched ahead of a clip job's reading (its download overlaps its decoding)."""
NOT_CUTTABLE_NAME = "not-cuttable.json"
"""A clip job or finish that found the recording cannot be cut leaves this (under the work prefix)
for the clean-up task, which then hands the recording to one pass."""


@dataclass(frozen=True)
class Handoff:
    plan: Plan
    execution_arn: str | None
    """None: the recording takes one pass (``plan.sequential_because`` says why, if it is long)."""


def execution_name(identity: str) -> str:
    """Step Functions execution names: 80 characters of ``[A-Za-z0-9-_]``, unique per state machine
    for 90 days. Derived from the object's identity, so a second event for the same upload finds
    the first execution instead of starting another."""
    return "avi2mp4-" + hashlib.sha256(identity.encode()).hexdigest()[:64]


def hand_off(src: SourceObject, source: SourceRef, identity: str, settings: Settings, s3: S3Client,
             sfn: SFNClient) -> Handoff:  # fmt: skip
    """Plan the recording from its header and index (ranged reads) and, if it is to be cut, start
    the state machine on it."""
    store = S3Store(s3, settings.video_bucket, settings.image_bucket)
    reader = S3RangeFile(s3, src.bucket, src.key, version_id=src.version_id, size=src.size)
    plan = start(reader, source, store, settings.pipeline)
    logger.info("planned", extra={"clips": len(plan.clips), "frames": plan.frames,
                                  "bytes_read": reader.bytes_fetched, "requests": reader.requests,
                                  "one_pass_because": plan.sequential_because})  # fmt: skip
    if not plan.parallel:
        return Handoff(plan, None)
    payload = {"bucket": src.bucket, "key": src.key, "version_id": src.version_id,
               "clips": [c.index for c in plan.clips]}  # fmt: skip
    name = execution_name(identity)
    try:
        arn = sfn.start_execution(stateMachineArn=settings.state_machine_arn, name=name,
                                  input=json.dumps(payload))["executionArn"]  # fmt: skip
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ExecutionAlreadyExists":
            raise
        arn = f"{settings.state_machine_arn.replace(':stateMachine:', ':execution:')}:{name}"
        logger.info("this upload's execution exists already", extra={"execution": arn})
    return Handoff(plan, arn)


def run_clip_task(event: dict[str, Any], settings: Settings, s3: S3Client, budget: TimeBudget) -> dict[str, Any]:
    """One clip of the plan, read by ranges from the source version the plan names."""
    store = S3Store(s3, settings.video_bucket, settings.image_bucket)
    plan = _plan(event, store)
    clip = int(event["clip"])
    # Read-ahead: the next blocks of the clip arrive while these are decoded.
    reader = S3RangeFile(s3, event["bucket"], event["key"], version_id=plan.source.version_id,
                         size=plan.source.size, readahead=READAHEAD_BLOCKS)  # fmt: skip
    work = workdirs.create(settings.tmp_dir)
    try:
        report = run_clip(reader, plan, clip, store, plan.config, tmp_root=work, stop=budget.check)
    except NotCuttable as exc:
        _mark_not_cuttable(store, plan, exc)
        raise
    finally:
        reader.close()
        workdirs.remove(work)
    logger.info("clip stored", extra={"clip": clip, "frames": report.last_frame - report.first_frame + 1,
                                      "jpegs": len(report.jpegs), "bytes_read": reader.bytes_fetched,
                                      "requests": reader.requests})  # fmt: skip
    return {"clip": clip, "first_frame": report.first_frame, "last_frame": report.last_frame,
            "bytes_read": reader.bytes_fetched}  # fmt: skip


def finish_task(event: dict[str, Any], settings: Settings, s3: S3Client) -> dict[str, Any]:
    """Verify, write the manifest, then delete the source if it is still the version converted."""
    store = S3Store(s3, settings.video_bucket, settings.image_bucket)
    plan = _plan(event, store)
    try:
        job = finish(plan, store, plan.config)
    except NotCuttable as exc:
        _mark_not_cuttable(store, plan, exc)
        raise
    deleted = False
    try:
        current = head_source(s3, event["bucket"], event["key"])
        if current.version_id == plan.source.version_id and current.etag == plan.source.etag:
            deleted = delete_source(s3, current)
        else:
            logger.info("the source was replaced meanwhile; it is kept (its own event converts it)")
    except SourceGone:
        logger.info("the source is already gone")
    logger.info("finished", extra={"manifest": job.manifest_object.location, "clips": len(job.clips),
                                   "jpegs": len(job.images), "source_deleted": deleted})  # fmt: skip
    return {"manifest": job.manifest_object.location, "clips": len(job.clips), "jpegs": len(job.images),
            "frames": job.result.frames_decoded, "source_deleted": deleted}  # fmt: skip


def clean_up_task(event: dict[str, Any], settings: Settings, s3: S3Client) -> dict[str, Any]:
    """After a failure: remove every output, keep the source; say whether one pass should follow."""
    store = S3Store(s3, settings.video_bucket, settings.image_bucket)
    layout = OutputLayout.for_key(event["key"])
    marker = store.get_bytes("video", layout.work_key(NOT_CUTTABLE_NAME))
    clean_up(store, event["key"])
    error = event.get("error") or {}
    cause = _cause(error)
    if marker is not None:
        why = json.loads(marker).get("why", "")
        logger.warning(f"cannot be cut exactly ({why}); handing it to one pass")
        return {"one_pass": True, "why": why}
    logger.error(f"clip-job conversion failed, outputs removed, source kept: {error.get('Error')}: {cause}")
    return {"one_pass": False, "error": error.get("Error"), "cause": cause}


def _plan(event: dict[str, Any], store: S3Store) -> Plan:
    plan = load_plan(store, event["key"])
    if plan.source.bucket != event["bucket"] or plan.source.version_id != event.get("version_id"):
        raise VerificationError(f"the plan at {OutputLayout.for_key(event['key']).plan_key} is for another "
                                "version of the source")  # fmt: skip
    return plan


def _mark_not_cuttable(store: S3Store, plan: Plan, exc: NotCuttable) -> None:
    data = json.dumps({"why": str(exc)}).encode()
    key = OutputLayout.for_key(plan.source.key).work_key(NOT_CUTTABLE_NAME)
    store.put_bytes("video", key, data, hashlib.sha256(data).hexdigest(), "application/json")


def _cause(error: dict[str, Any]) -> str:
    """A Lambda error's message out of the Cause Step Functions passes on (a JSON string)."""
    cause = str(error.get("Cause", ""))
    try:
        parsed = json.loads(cause)
    except ValueError:
        return cause[:500]
    return str(parsed.get("errorMessage", cause))[:500] if isinstance(parsed, dict) else cause[:500]
