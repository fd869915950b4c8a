"""Lambda entry points and the composition root.

The root builds settings, clients, the store and the conversion's AWS plug-ins (the Step Functions
runner, the metrics observer, the idempotency ledger) once per container, lazily locally and at
init in Lambda. Each entry point routes the request kinds it answers (``requests.parse``) to one
function of ``tasks``: the S3-triggered function answers S3 notifications, Batch Operations tasks
and its state machine's one-pass fall-back; the clip and finish functions answer their tasks.
"""

from __future__ import annotations

import functools
import os
from typing import TYPE_CHECKING, Any

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.serialization.dataclass import DataclassSerializer
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.config import Config

from avi2mp4.conversion.budget import TimeBudget
from avi2mp4.conversion.ports import Observer, Observers
from avi2mp4.storage.s3 import S3Store
from handler import SERVICE
from handler.events import EventBridgeObserver
from handler.ledger import IdempotencyLedger
from handler.metrics import MetricsObserver, metrics
from handler.objects import ObjectRef, ObjectResult
from handler.requests import BatchTask, Request, RunTask, S3Notification, S3TestEvent, parse, run_task
from handler.settings import Settings
from handler.step_functions import StepFunctionsRunner
from handler.tasks import (
    ConversionFailed,
    Runtime,
    convert_object,
    handle_batch_task,
    handle_records,
    handle_run_task,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_stepfunctions import SFNClient

logger = Logger(service=SERVICE)
copy_config_to_registered_loggers(source_logger=logger, include={"avi2mp4"})

# 64 connections: finish verifies 64 outputs at a time (conversion.finish.VERIFY_WORKERS).
BOTO_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5}, max_pool_connections=64)
IDEMPOTENCY_PREFIX = "avi2mp4-object"

__all__ = ["ConversionFailed", "Runtime", "build_runtime", "clip_handler", "finish_handler", "lambda_handler"]


def build_runtime(settings: Settings, s3: S3Client | None = None, dynamodb: DynamoDBClient | None = None,
                  sfn: SFNClient | None = None, events: EventBridgeClient | None = None) -> Runtime:  # fmt: skip
    s3_client = s3 or boto3.client("s3", config=BOTO_CONFIG)
    observer: Observer = MetricsObserver()
    if settings.event_bus_name:
        client = events or boto3.client("events", config=BOTO_CONFIG)
        observer = Observers(observer, EventBridgeObserver(client, settings.event_bus_name))
    runner = None
    if settings.state_machine_arn:
        runner = StepFunctionsRunner(
            sfn or boto3.client("stepfunctions", config=BOTO_CONFIG), settings.state_machine_arn
        )
    persistence = DynamoDBPersistenceLayer(
        table_name=settings.idempotency_table,
        boto3_client=dynamodb or boto3.client("dynamodb", config=BOTO_CONFIG),
    )
    config = IdempotencyConfig(
        event_key_jmespath="identity",
        raise_on_no_idempotency_key=True,
        expires_after_seconds=settings.idempotency_ttl_seconds,
    )
    persistence.configure(config, key_prefix=IDEMPOTENCY_PREFIX)  # the ledger writes the same keys
    rt: Runtime

    def process_one(ref: ObjectRef, budget: TimeBudget | None = None) -> ObjectResult:
        return convert_object(rt, ref, budget)

    process = idempotent_function(
        process_one,
        data_keyword_argument="ref",
        persistence_store=persistence,
        config=config,
        output_serializer=DataclassSerializer(ObjectResult),
        key_prefix=IDEMPOTENCY_PREFIX,
    )
    store = S3Store(s3_client, settings.video_bucket, settings.image_bucket)
    rt = Runtime(settings, config, process, s3_client, store, runner, IdempotencyLedger(persistence), observer)
    return rt


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
    """The S3-triggered function: S3 notifications, Batch Operations tasks, and the state machine's
    one-pass fall-back."""
    return handle_event(event, context, default_runtime())


def handle_event(event: dict[str, Any], context: LambdaContext, rt: Runtime) -> dict[str, Any]:
    request = parse(event)
    # Every invocation has at least this metric (duplicates and skips add no others).
    metrics.add_metric(name="Records", unit=MetricUnit.Count, value=_records(request))
    match request:
        case S3Notification():
            return handle_records(request.records, context, rt)
        case BatchTask():
            return handle_batch_task(request, context, rt)
        case RunTask(kind="one_pass"):
            return handle_run_task(request, context, rt)
        case S3TestEvent():
            logger.info("S3's test event: the notification is configured")
            return {"done": [], "rejected": [], "skipped": []}
    raise ValueError(f"this function does not run {type(request).__name__} requests")


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def clip_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """The clip function: one clip job of a run (the state machine's Map item)."""
    return handle_run_task(run_task(event, "clip"), context, default_runtime())


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def finish_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """The finish function: a run's finish, or its clean-up after a failure."""
    return handle_run_task(run_task(event, "finish", "clean_up"), context, default_runtime())


def _records(request: Request) -> int:
    match request:
        case S3Notification():
            return len(request.records)
        case BatchTask():
            return len(request.event.raw_event["tasks"])
        case RunTask():
            return 1
    return 0
