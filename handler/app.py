"""Lambda entry point: S3 ObjectCreated events -> one idempotent conversion per object.

The handler is a composition root: it builds settings, clients and the idempotent unit once per
container (lazily, not at import) and runs every record of the event through it.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import S3Event
from aws_lambda_powertools.utilities.data_classes.s3_batch_operation_event import (
    S3BatchOperationEvent,
    S3BatchOperationResponse,
)
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyAlreadyInProgressError
from aws_lambda_powertools.utilities.idempotency.serialization.dataclass import DataclassSerializer
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.config import Config

from avi2mp4.errors import Avi2Mp4Error
from avi2mp4.outputs.names import is_avi
from handler import SERVICE
from handler.clip_steps import clean_up_task, finish_task, run_clip_task
from handler.metrics import metrics, record_outcome
from handler.objects import ObjectRef, ObjectResult
from handler.process_object import TimeBudget, process_object
from handler.settings import Settings

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_stepfunctions import SFNClient

logger = Logger(service=SERVICE)
copy_config_to_registered_loggers(source_logger=logger, include={"avi2mp4"})

# 64 connections: finish verifies 64 outputs at a time (parallel.finish.VERIFY_WORKERS).
BOTO_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5}, max_pool_connections=64)


class ConversionFailed(Avi2Mp4Error):
    """Some records of the event failed; raised so Lambda's retries and failure destination act."""


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    idempotency: IdempotencyConfig
    process: Callable[..., ObjectResult]
    """``process(ref=ObjectRef)``: the idempotent conversion of one object."""
    s3: S3Client
    sfn: SFNClient | None
    """Set when a state machine converts long recordings (``STATE_MACHINE_ARN``)."""


def build_runtime(settings: Settings, s3: S3Client | None = None, dynamodb: DynamoDBClient | None = None,
                  sfn: SFNClient | None = None) -> Runtime:  # fmt: skip
    s3_client = s3 or boto3.client("s3", config=BOTO_CONFIG)
    if settings.state_machine_arn and sfn is None:
        sfn = boto3.client("stepfunctions", config=BOTO_CONFIG)
    persistence = DynamoDBPersistenceLayer(
        table_name=settings.idempotency_table,
        boto3_client=dynamodb or boto3.client("dynamodb", config=BOTO_CONFIG),
    )
    config = IdempotencyConfig(
        event_key_jmespath="identity",
        raise_on_no_idempotency_key=True,
        expires_after_seconds=settings.idempotency_ttl_seconds,
    )

    def process_one(ref: ObjectRef, budget: TimeBudget | None = None) -> ObjectResult:
        return process_object(ref, settings, s3_client, budget, sfn)

    process = idempotent_function(
        process_one,
        data_keyword_argument="ref",
        persistence_store=persistence,
        config=config,
        output_serializer=DataclassSerializer(ObjectResult),
        key_prefix="avi2mp4-object",
    )
    return Runtime(settings, config, process, s3_client, sfn)


@functools.cache
def default_runtime() -> Runtime:
    return build_runtime(Settings.from_env(os.environ))


if os.environ.get("AWS_LAMBDA_RUNTIME_API"):
    # In Lambda, read the settings and build the clients while the container starts: a missing or
    # bad setting then fails the init (reported to /init/error) instead of the first object.
    default_runtime()


@metrics.log_metrics(capture_cold_start_metric=True)
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if "invocationSchemaVersion" in event and "tasks" in event:  # an S3 Batch Operations job
        metrics.add_metric(name="Records", unit=MetricUnit.Count, value=len(event["tasks"]))
        return handle_batch_task(event, context, default_runtime())
    if "one_pass" in event:  # the state machine's fallback for a recording that cannot be cut
        metrics.add_metric(name="Records", unit=MetricUnit.Count, value=1)
        return handle_one_pass(event["one_pass"], context, default_runtime())
    # Every invocation has at least this metric (duplicates and skips add no others).
    metrics.add_metric(name="Records", unit=MetricUnit.Count, value=len(event.get("Records", [])))
    return handle_event(event, context, default_runtime())


def handle_event(event: dict[str, Any], context: LambdaContext, rt: Runtime) -> dict[str, Any]:
    # An in-progress idempotency record then expires with this invocation, not after an hour.
    rt.idempotency.register_lambda_context(context)
    done: list[dict[str, Any]] = []
    rejected: list[dict[str, Any]] = []
    skipped: list[dict[str, str]] = []
    failed: list[dict[str, str]] = []
    for record in S3Event(event).records:
        ref = ObjectRef.from_record(record)
        with logger.append_context_keys(bucket=ref.bucket, s3_key=ref.key):
            reason = skip_reason(ref, rt.settings)
            if reason:
                logger.info(f"skipped: {reason}")
                skipped.append({"bucket": ref.bucket, "key": ref.key, "reason": reason})
                continue
            try:
                budget = TimeBudget(context.get_remaining_time_in_millis, rt.settings.time_reserve_seconds)
                result = rt.process(ref=ref, budget=budget)
            except IdempotencyAlreadyInProgressError as exc:
                # A concurrent delivery of the same event is converting it; the retry of this one
                # will find its result.
                logger.warning("another invocation is converting this object; will retry")
                failed.append({"bucket": ref.bucket, "key": ref.key, "error": type(exc).__name__,
                               "reason": "in progress elsewhere"})  # fmt: skip
                continue
            except Exception as exc:  # one bad object must not stop the others
                record_outcome("failed")
                logger.exception(f"conversion failed, source kept: {exc}", extra={"error_type": type(exc).__name__})
                failed.append({"bucket": ref.bucket, "key": ref.key, "error": type(exc).__name__, "reason": str(exc)})
                continue
            logger.info("done", extra={"status": result.status, "manifest": result.manifest})
            (rejected if result.status == "rejected" else done).append(asdict(result))
    if failed:
        raise ConversionFailed(
            f"{len(failed)} of {len(failed) + len(done)} objects failed: "
            + "; ".join(f"{f['key']}: {f['error']}: {f['reason']}" for f in failed)
        )
    return {"done": done, "rejected": rejected, "skipped": skipped}


def handle_batch_task(event: dict[str, Any], context: LambdaContext, rt: Runtime) -> dict[str, Any]:
    """One S3 Batch Operations task (schema 1.0 or 2.0), answered per task: ``Succeeded``
    (converted, already done, or skipped), ``PermanentFailure`` (bad input: a retry cannot help),
    ``TemporaryFailure`` (what a retry may fix)."""
    rt.idempotency.register_lambda_context(context)
    batch = S3BatchOperationEvent(event)
    response = S3BatchOperationResponse(batch.invocation_schema_version, batch.invocation_id, "PermanentFailure")
    task = batch.task
    ref = ObjectRef.from_task(task.s3_bucket, task.s3_key, task.s3_version_id)
    with logger.append_context_keys(bucket=ref.bucket, s3_key=ref.key, batch_task=task.task_id):
        reason = skip_reason(ref, rt.settings)
        if reason:
            logger.info(f"skipped: {reason}")
            response.add_result(task.build_task_batch_response("Succeeded", f"skipped: {reason}"))
            return response.asdict()
        try:
            result = rt.process(ref=ref, budget=TimeBudget(context.get_remaining_time_in_millis,
                                                           rt.settings.time_reserve_seconds))  # fmt: skip
        except Exception as exc:
            record_outcome("failed")
            logger.exception(f"conversion failed, source kept: {exc}", extra={"error_type": type(exc).__name__})
            response.add_result(task.build_task_batch_response("TemporaryFailure", f"{type(exc).__name__}: {exc}"))
            return response.asdict()
    if result.status == "rejected":
        response.add_result(task.build_task_batch_response("PermanentFailure", result.reason or "rejected"))
    else:
        response.add_result(task.build_task_batch_response("Succeeded", f"{result.status}: {result.manifest}"))
    return response.asdict()


def handle_one_pass(task: dict[str, Any], context: LambdaContext, rt: Runtime) -> dict[str, Any]:
    """Convert in one pass what the clip jobs found cannot be cut exactly. Not through the
    idempotency layer: its record for this object says "handed off"; the execution is the guard."""
    ref = ObjectRef.from_task(task["bucket"], task["key"], task.get("version_id"))
    with logger.append_context_keys(bucket=ref.bucket, s3_key=ref.key):
        budget = TimeBudget(context.get_remaining_time_in_millis, rt.settings.time_reserve_seconds)
        result = process_object(ref, rt.settings, rt.s3, budget, one_pass_because=task.get("why") or "one pass asked")
        logger.info("done in one pass", extra={"status": result.status, "manifest": result.manifest})
    return asdict(result)


@logger.inject_lambda_context(clear_state=True)
def clip_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """The state machine's clip task: ``{"bucket", "key", "version_id", "clip"}``."""
    rt = default_runtime()
    with logger.append_context_keys(bucket=event["bucket"], s3_key=event["key"], clip=event["clip"]):
        budget = TimeBudget(context.get_remaining_time_in_millis, rt.settings.time_reserve_seconds)
        return run_clip_task(event, rt.settings, rt.s3, budget)


@logger.inject_lambda_context(clear_state=True)
def finish_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """The state machine's last task (``"action": "finish"``) or its catch (``"clean_up"``)."""
    rt = default_runtime()
    with logger.append_context_keys(bucket=event["bucket"], s3_key=event["key"], action=event["action"]):
        if event["action"] == "finish":
            return finish_task(event, rt.settings, rt.s3)
        if event["action"] == "clean_up":
            return clean_up_task(event, rt.settings, rt.s3)
        raise ValueError(f"unknown action {event['action']!r}: expected finish or clean_up")


def skip_reason(ref: ObjectRef, settings: Settings) -> str | None:
    if ref.bucket in (settings.video_bucket, settings.image_bucket):
        # Recursion guard: a misconfigured trigger on an output bucket must not loop.
        return f"bucket {ref.bucket} is an output bucket; refusing to process its objects"
    if not is_avi(ref.key):
        return "not an .avi key"
    return None
