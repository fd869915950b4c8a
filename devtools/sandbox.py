"""The stack on loopback, no AWS account: what ``avi2mp4 sandbox`` keeps up for the operations
commands and what ``avi2mp4 demo`` runs its story on.

One moto server (S3, DynamoDB, SQS, EventBridge, Step Functions with moto's ASL interpreter running
``statemachine/clips.asl.json``) and one Lambda Invoke API serving the three functions from this
process (``avi2mp4-convert``, ``avi2mp4-clip``, ``avi2mp4-finish``), configured as the template
configures them: the source bucket (versioned), the video and image buckets, the idempotency table,
the failure queue (an asynchronous invoke that fails lands there, as Lambda's on-failure
destination puts it), an event bus whose rule copies the completion events to a queue, and the
state machine.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

from devtools.local_aws import REGION, LocalAws, local_context
from devtools.local_lambda import LocalLambda

SOURCE_BUCKET = "avi-uploads"
VIDEO_BUCKET = "video-mp4"
IMAGE_BUCKET = "unlabeled-images"
TABLE = "avi2mp4-idempotency"
EVENT_BUS = "avi2mp4-conversions"
FAILURE_QUEUE = "avi2mp4-failures"
CONVERT, CLIP, FINISH = "avi2mp4-convert", "avi2mp4-clip", "avi2mp4-finish"
ASL = Path(__file__).resolve().parent.parent / "statemachine" / "clips.asl.json"
ACCOUNT = "000000000000"
FUNCTION_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function"
CLIP_CONCURRENCY = 4


class Sandbox:
    """``with Sandbox() as box``: everything above, up; ``box.env`` is what a process needs to use
    it (set in this one too, since the functions run here); ``box.exports()`` says it for a shell."""

    def __init__(self, port: int = 0, extra_env: dict[str, str] | None = None) -> None:
        self.aws = LocalAws(port)
        self.extra_env = extra_env or {}
        self.functions = LocalLambda({CONVERT: self._convert, CLIP: self._clip, FINISH: self._finish},
                                     on_failure=self._to_failure_queue)  # fmt: skip
        self.env: dict[str, str] = {}
        self.failure_queue = self.events_queue = self.state_machine = ""

    def __enter__(self) -> Sandbox:
        aws = self.aws.__enter__()
        try:
            aws.run_state_machines()  # before anything is created: the switch starts a fresh backend
            self.functions.__enter__()
            for bucket, versioned in ((SOURCE_BUCKET, True), (VIDEO_BUCKET, False), (IMAGE_BUCKET, False)):
                aws.create_bucket(bucket, versioned=versioned)
            aws.create_idempotency_table(TABLE)
            self.failure_queue = aws.sqs().create_queue(QueueName=FAILURE_QUEUE)["QueueUrl"]
            self.events_queue = aws.route_events(EVENT_BUS)
            role = f"arn:aws:iam::{ACCOUNT}:role/avi2mp4-clips"
            self.state_machine = aws.stepfunctions().create_state_machine(
                name="avi2mp4-clips", definition=definition(), roleArn=role
            )["stateMachineArn"]
            self.env = {
                **aws.env, "AWS_ENDPOINT_URL_LAMBDA": self.functions.endpoint,
                "VIDEO_BUCKET": VIDEO_BUCKET, "IMAGE_BUCKET": IMAGE_BUCKET, "IDEMPOTENCY_TABLE": TABLE,
                "SOURCE_BUCKETS": SOURCE_BUCKET, "STATE_MACHINE_ARN": self.state_machine, "EVENT_BUS_NAME": EVENT_BUS,
                **self.extra_env,
            }  # fmt: skip
            # The functions run in this process, configured by its environment as in Lambda; the
            # state machine's Lambda tasks call localhost:$MOTO_PORT, the Invoke API above.
            os.environ.update({**self.env, "MOTO_PORT": self.functions.endpoint.rsplit(":", 1)[1]})
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.functions.__exit__()
        self.aws.__exit__()

    def exports(self) -> list[str]:
        return [f"export {name}={value}" for name, value in self.env.items()]

    def received_events(self) -> list[dict[str, Any]]:
        return self.aws.received_events(self.events_queue)

    # The functions. Imported once the environment is set: the handlers read it at first use.
    @staticmethod
    def _convert(event: dict[str, Any]) -> Any:
        from handler.app import lambda_handler

        return lambda_handler(event, local_context())

    @staticmethod
    def _clip(event: dict[str, Any]) -> Any:
        from handler.app import clip_handler

        return clip_handler(event, local_context())

    @staticmethod
    def _finish(event: dict[str, Any]) -> Any:
        from handler.app import finish_handler

        return finish_handler(event, local_context())

    def _to_failure_queue(self, function: str, event: dict[str, Any], error: dict[str, Any]) -> None:
        """What Lambda's on-failure destination sends for an asynchronous invoke that failed (the
        template retries first; here it is sent at once)."""
        record = {
            "version": "1.0",
            "requestContext": {"condition": "RetriesExhausted", "approximateInvokeCount": 1,
                               "functionArn": f"{FUNCTION_ARN}:{function}:$LATEST"},
            "requestPayload": event,
            "responseContext": {"statusCode": 200, "functionError": "Unhandled"},
            "responsePayload": error,
        }  # fmt: skip
        self.aws.sqs().send_message(QueueUrl=self.failure_queue, MessageBody=json.dumps(record))


def definition() -> str:
    """The template's state machine, its function ARNs those the Invoke API above serves."""
    text = ASL.read_text().replace("${MaxConcurrency}", str(CLIP_CONCURRENCY))
    for name, function in (("ClipFunctionArn", CLIP), ("FinishFunctionArn", FINISH), ("ConvertFunctionArn", CONVERT)):
        text = text.replace("${" + name + "}", f"{FUNCTION_ARN}:{function}")
    return text


def run_sandbox(port: int = 0) -> int:
    """``avi2mp4 sandbox``: up, say how to use it, stay up until SIGINT or SIGTERM."""
    stopped: list[int] = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda number, _: stopped.append(number))
    env = {"POWERTOOLS_LOG_LEVEL": "WARNING", "POWERTOOLS_METRICS_DISABLED": "true"}
    with Sandbox(port, env) as box:
        print(f"""avi2mp4 sandbox: S3, DynamoDB, SQS, EventBridge and Step Functions at {box.aws.endpoint};
the functions {CONVERT}, {CLIP} and {FINISH} at {box.functions.endpoint} (Lambda Invoke API).
  source bucket  s3://{SOURCE_BUCKET} (versioned)   outputs  s3://{VIDEO_BUCKET}, s3://{IMAGE_BUCKET}
  failure queue  {box.failure_queue}
  events         {box.events_queue} (a rule on bus {EVENT_BUS} copies every completion event here)

In another shell:
{chr(10).join(box.exports())}
  python -c "import boto3; boto3.client('s3').upload_file('rec.avi', '{SOURCE_BUCKET}', 'cams/rec.avi')"
  avi2mp4 backfill --bucket {SOURCE_BUCKET} --function {CONVERT}   # or --local, --dry-run
  avi2mp4 redrive --queue {box.failure_queue} --function {CONVERT}
  avi2mp4 invoke events/put.json                                  # after putting your bucket and key in it

Ctrl-C stops it; everything in it is gone then.""", flush=True)  # fmt: skip
        while not stopped:
            signal.pause()  # the servers run on their own threads
    print("avi2mp4 sandbox: stopped", file=sys.stderr)
    return 0
