"""Running the function without AWS: an embedded S3 + DynamoDB (moto server on loopback), a
Lambda context stand-in, and real-shaped S3 events.

moto is a development dependency; this package is not in the Lambda image.
"""

from __future__ import annotations

import json
import logging
import urllib.request
from typing import TYPE_CHECKING, Any

import boto3

from operations.context import LocalContext, local_context
from operations.events import s3_event

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_stepfunctions import SFNClient

REGION = "us-east-1"
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}


class LocalAws:
    """A moto server on 127.0.0.1 (a free port), with helpers to make buckets and the table."""

    def __init__(self, port: int = 0) -> None:
        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request otherwise
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        self.endpoint = ""

    def __enter__(self) -> LocalAws:
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.endpoint = f"http://{host}:{port}"
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.stop()

    @property
    def env(self) -> dict[str, str]:
        """What a process needs in its environment to talk to this server with boto3."""
        return {**FAKE_CREDENTIALS, "AWS_ENDPOINT_URL": self.endpoint, "AWS_DEFAULT_REGION": REGION}

    def s3(self) -> S3Client:
        return self._session().client("s3", endpoint_url=self.endpoint)

    def dynamodb(self) -> DynamoDBClient:
        return self._session().client("dynamodb", endpoint_url=self.endpoint)

    def stepfunctions(self) -> SFNClient:
        return self._session().client("stepfunctions", endpoint_url=self.endpoint)

    def events(self) -> EventBridgeClient:
        return self._session().client("events", endpoint_url=self.endpoint)

    def sqs(self) -> SQSClient:
        return self._session().client("sqs", endpoint_url=self.endpoint)

    def route_events(self, bus: str) -> str:
        """An event bus whose rule sends avi2mp4's events to a new queue (as a consumer would set it
        up); the queue's URL, for ``received_events``."""
        events, sqs = self.events(), self.sqs()
        if bus != "default":
            events.create_event_bus(Name=bus)
        url = sqs.create_queue(QueueName=f"{bus}-events")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        rule = f"{bus}-conversions"
        events.put_rule(Name=rule, EventBusName=bus, EventPattern=json.dumps({"source": ["avi2mp4"]}))
        events.put_targets(Rule=rule, EventBusName=bus, Targets=[{"Id": "queue", "Arn": arn}])
        return url

    def received_events(self, queue_url: str) -> list[dict[str, Any]]:
        """Every event the queue holds now (EventBridge delivers before ``put_events`` returns here),
        removed from it, oldest first."""
        sqs = self.sqs()
        events: list[dict[str, Any]] = []
        while True:
            answer = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
            messages = answer.get("Messages", [])
            if not messages:
                return events
            for message in messages:
                events.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])

    def run_state_machines(self) -> None:
        """Have the server's Step Functions run executions (moto's ASL interpreter), not only
        record them. Its Lambda tasks call the Invoke API at localhost:$MOTO_PORT."""
        body = json.dumps({"stepfunctions": {"execute_state_machine": True}}).encode()
        request = urllib.request.Request(f"{self.endpoint}/moto-api/config", method="POST", data=body)
        with urllib.request.urlopen(request, timeout=10):
            pass

    @staticmethod
    def _session() -> boto3.session.Session:
        return boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION)

    def create_bucket(self, name: str, versioned: bool = False) -> None:
        s3 = self.s3()
        s3.create_bucket(Bucket=name)
        if versioned:
            s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})

    def create_idempotency_table(self, name: str) -> None:
        """Same shape as template.yaml's table: partition key ``id``, TTL on ``expiration``."""
        ddb = self.dynamodb()
        ddb.create_table(
            TableName=name,
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        ddb.update_time_to_live(
            TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expiration"}
        )


__all__ = ["REGION", "LocalAws", "LocalContext", "local_context", "s3_event"]
