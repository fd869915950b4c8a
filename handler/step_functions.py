"""The clip runner of the deployed stack: a long recording's clip jobs run as a Step Functions
execution (statemachine/clips.asl.json), whose name is the run's id."""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import TYPE_CHECKING

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError

from avi2mp4.conversion.plan import Plan
from avi2mp4.errors import StorageError
from handler import SERVICE

if TYPE_CHECKING:
    from mypy_boto3_stepfunctions import SFNClient

logger = Logger(service=SERVICE, child=True)


def execution_name(identity: str, attempt: str | None = None) -> str:
    """Step Functions execution names: 80 characters of ``[A-Za-z0-9-_]``, unique per state machine
    for 90 days. The object's identity (so its runs are found by name) and an attempt of its own:
    a delivery after a run that failed starts a new run, where one name per object would be refused
    for 90 days and strand the source. Duplicates of a delivery are the idempotency table's to
    answer, and a second run of one source takes the names over from the first (its claim)."""
    return f"avi2mp4-{hashlib.sha256(identity.encode()).hexdigest()[:56]}-{attempt or uuid.uuid4().hex[:12]}"


class StepFunctionsRunner:
    def __init__(self, sfn: SFNClient, state_machine_arn: str) -> None:
        self.sfn, self.state_machine_arn = sfn, state_machine_arn

    def run_id(self, identity: str) -> str:
        return execution_name(identity)

    def run(self, plan: Plan) -> str:
        """Start the execution (the plan is stored); its ARN. The input is a request like any other:
        every task checks it against the plan."""
        source = plan.source
        payload = {"bucket": source.bucket, "key": source.key, "version_id": source.version_id,
                   "clips": [c.index for c in plan.clips]}  # fmt: skip
        try:
            answer = self.sfn.start_execution(stateMachineArn=self.state_machine_arn, name=plan.run_id,
                                              input=json.dumps(payload))  # fmt: skip
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ExecutionAlreadyExists":
                raise StorageError(f"cannot start the clip jobs of {source.key}: {exc}") from exc
            arn = f"{self.state_machine_arn.replace(':stateMachine:', ':execution:')}:{plan.run_id}"
            logger.info("this upload's execution exists already", extra={"execution": arn})
            return arn
        except BotoCoreError as exc:
            raise StorageError(f"cannot start the clip jobs of {source.key}: {exc}") from exc
        return answer["executionArn"]
