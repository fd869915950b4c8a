"""template.yaml keeps the contracts that pitfalls.md says are easy to lose."""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path
from typing import Any

import pytest
from cfnlint.decode import decode

from avi2mp4.outputs.names import is_avi
from handler.metrics import NAMESPACE

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def resources() -> dict[str, Any]:
    template, problems = decode(str(ROOT / "template.yaml"))
    assert not problems and template is not None
    return dict(template["Resources"])


def test_trigger_covers_multipart_and_every_casing_of_the_suffix(resources: dict[str, Any]) -> None:
    events = list(resources["Avi2Mp4Function"]["Properties"]["Events"].values())
    assert {e["Properties"]["Events"] for e in events} == {"s3:ObjectCreated:*"}
    suffixes = [e["Properties"]["Filter"]["S3Key"]["Rules"][0]["Value"] for e in events]
    casings = {"." + "".join(c) for c in itertools.product("aA", "vV", "iI")}
    assert sorted(suffixes) == sorted(casings) and len(casings) == 8  # each once: S3 refuses overlapping rules
    assert all(len(e["Properties"]["Filter"]["S3Key"]["Rules"]) == 1 for e in events)
    assert all(e["Properties"]["Bucket"] == {"Ref": "SourceBucket"} for e in events)
    assert all(is_avi(f"clip{suffix}") for suffix in suffixes), "the handler accepts what the trigger sends"


def test_completion_events_go_to_the_chosen_bus_and_only_there(resources: dict[str, Any]) -> None:
    for name in ("Avi2Mp4Function", "FinishFunction"):
        env = resources[name]["Properties"]["Environment"]["Variables"]
        assert env["EVENT_BUS_NAME"] == {"Fn::If": ["PublishesEvents", {"Fn::If": [
            "CreatesEventBus", {"Ref": "ConversionEventBus"}, "default"]}, ""]}, name  # fmt: skip
        put = _statements(resources[name])["PublishCompletionEvents"]
        assert put["Action"] == "events:PutEvents"
        assert put["Resource"]["Fn::If"][1] == {"Fn::GetAtt": ["ConversionEventBus", "Arn"]}
        assert put["Resource"]["Fn::If"][2]["Fn::Sub"].endswith(":event-bus/default")
    assert "PublishCompletionEvents" not in _statements(resources["ClipFunction"])  # clip jobs end nothing
    assert resources["ConversionEventBus"]["Condition"] == "CreatesEventBus"


def test_alarms_watch_what_needs_a_person_and_tell_the_topic(resources: dict[str, Any]) -> None:
    alarms = {name: r["Properties"] for name, r in resources.items() if r["Type"] == "AWS::CloudWatch::Alarm"}
    watched = {(a["Namespace"], a["MetricName"], a["Dimensions"][0]["Value"].get("Ref") or
                a["Dimensions"][0]["Value"]["Fn::GetAtt"][0]) for a in alarms.values()}  # fmt: skip
    assert watched == {
        ("AWS/SQS", "ApproximateNumberOfMessagesVisible", "FailureQueue"),
        ("AWS/Lambda", "Errors", "Avi2Mp4Function"),
        ("AWS/Lambda", "Throttles", "Avi2Mp4Function"),
        ("AWS/Lambda", "Errors", "FinishFunction"),
        ("AWS/States", "ExecutionsFailed", "ClipsStateMachine"),
        ("AWS/States", "ExecutionsTimedOut", "ClipsStateMachine"),
    }
    for alarm in alarms.values():
        assert alarm["AlarmActions"] == [{"Ref": "AlarmTopic"}] and alarm["Threshold"] == 0
        assert alarm["ComparisonOperator"] == "GreaterThanThreshold" and alarm["TreatMissingData"] == "notBreaching"
    subscription = resources["AlarmEmailSubscription"]
    assert subscription["Condition"] == "HasAlarmEmail" and subscription["Properties"]["Protocol"] == "email"
    assert subscription["Properties"]["Endpoint"] == {"Ref": "AlarmEmail"}


def test_the_dashboard_shows_metrics_the_functions_emit(resources: dict[str, Any]) -> None:
    body = json.loads(resources["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"])
    ours: set[str] = set()
    for widget in body["widgets"]:
        for row in widget["properties"]["metrics"]:
            if row[0] == NAMESPACE:
                ours.add(row[1])
                assert row[2:4] == ["service", "avi2mp4"], row
            elif isinstance(row[0], dict):
                ours.update(re.findall(r'MetricName="(\w+)"', row[0]["expression"]))
    assert ours == {"Objects", "RealtimeFactor", "DeadFrames", "ClipJobSeconds"}
    emitted = (ROOT / "handler" / "metrics.py").read_text()
    assert all(f'name="{name}"' in emitted for name in ours), "a dashboard metric nobody emits stays empty"
    outcomes = {row[5] for w in body["widgets"] for row in w["properties"]["metrics"] if row[1:2] == ["Objects"]}
    assert outcomes == {"converted", "rejected", "failed"}


def test_function_is_sized_and_retries_are_bounded(resources: dict[str, Any]) -> None:
    fn = resources["Avi2Mp4Function"]["Properties"]
    assert fn["PackageType"] == "Image"
    invoke = fn["EventInvokeConfig"]
    assert invoke["DestinationConfig"]["OnFailure"]["Type"] == "SQS"
    assert "MaximumRetryAttempts" in invoke and "MaximumEventAgeInSeconds" in invoke
    variables = fn["Environment"]["Variables"]
    assert variables["VIDEO_BUCKET"] == {"Ref": "VideoBucket"}
    assert variables["IMAGE_BUCKET"] == {"Ref": "ImageBucket"}  # never the source: no recursion


def test_source_is_versioned_with_expiry_and_all_buckets_private(resources: dict[str, Any]) -> None:
    src = resources["SourceBucket"]["Properties"]
    assert src["VersioningConfiguration"]["Status"] == "Enabled"
    assert any("NoncurrentVersionExpiration" in r for r in src["LifecycleConfiguration"]["Rules"])
    for name in ("SourceBucket", "VideoBucket", "ImageBucket"):
        props = resources[name]["Properties"]
        assert all(props["PublicAccessBlockConfiguration"].values()), name
        assert props["BucketEncryption"], name


def test_iam_is_least_privilege(resources: dict[str, Any]) -> None:
    statements = resources["Avi2Mp4Function"]["Properties"]["Policies"][0]["Statement"]
    actions = {s["Sid"]: set(s["Action"]) for s in statements}
    assert actions["ReadAndDeleteSources"] == {"s3:GetObject", "s3:GetObjectVersion", "s3:DeleteObject"}
    assert "s3:PutObject" not in actions["ReadAndDeleteSources"], "never write into the source bucket"
    assert all("*" not in a for acts in actions.values() for a in acts)


def test_idempotency_table_expires_records(resources: dict[str, Any]) -> None:
    table = resources["IdempotencyTable"]["Properties"]
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expiration", "Enabled": True}


def test_architecture_is_a_parameter_of_the_function(resources: dict[str, Any]) -> None:
    template, _ = decode(str(ROOT / "template.yaml"))
    assert template is not None
    param = template["Parameters"]["Architecture"]
    assert param["Default"] == "x86_64" and set(param["AllowedValues"]) == {"x86_64", "arm64"}
    assert resources["Avi2Mp4Function"]["Properties"]["Architectures"] == [{"Ref": "Architecture"}]


def test_function_may_list_its_buckets_and_tag_rejected_sources(resources: dict[str, Any]) -> None:
    statements = {s["Sid"]: s for s in resources["Avi2Mp4Function"]["Properties"]["Policies"][0]["Statement"]}
    assert statements["ListSources"]["Action"] == "s3:ListBucket"
    assert "/*" not in str(statements["ListSources"]["Resource"]), "ListBucket applies to the bucket itself"
    assert set(statements["TagRejectedSources"]["Action"]) == {"s3:PutObjectTagging", "s3:PutObjectVersionTagging"}
    assert statements["ListOutputs"]["Resource"] == [{"Fn::GetAtt": ["VideoBucket", "Arn"]},
                                                     {"Fn::GetAtt": ["ImageBucket", "Arn"]}]  # fmt: skip


def test_buckets_refuse_plain_http_and_outputs_keep_versions(resources: dict[str, Any]) -> None:
    for bucket in ("SourceBucket", "VideoBucket", "ImageBucket"):
        (statement,) = resources[f"{bucket}Policy"]["Properties"]["PolicyDocument"]["Statement"]
        assert statement["Effect"] == "Deny" and statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        assert resources[bucket]["Properties"]["VersioningConfiguration"] == {"Status": "Enabled"}
        rules = resources[bucket]["Properties"]["LifecycleConfiguration"]["Rules"]
        assert any("NoncurrentVersionExpiration" in r for r in rules), bucket


def test_every_accepted_security_finding_says_why(resources: dict[str, Any]) -> None:
    skips = [s for r in resources.values() for s in r.get("Metadata", {}).get("checkov", {}).get("skip", [])]
    assert skips and all(s["id"].startswith("CKV_") and len(s["comment"]) > 30 for s in skips)


def test_batch_operations_role_may_only_invoke_the_function_and_use_its_prefix(resources: dict[str, Any]) -> None:
    role = resources["BatchOperationsRole"]["Properties"]
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "batchoperations.s3.amazonaws.com"}
    statements = {s["Sid"]: s for s in role["Policies"][0]["PolicyDocument"]["Statement"]}
    assert statements["InvokeTheFunction"]["Resource"] == {"Fn::GetAtt": ["Avi2Mp4Function", "Arn"]}
    assert statements["ManifestsAndReports"]["Resource"] == {"Fn::Sub": "${VideoBucket.Arn}/batch-operations/*"}


def _statements(resource: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["Sid"]: s for p in map(_chosen, resource["Properties"]["Policies"]) if "Statement" in p
            for s in p["Statement"]}  # fmt: skip


def _chosen(policy: dict[str, Any]) -> dict[str, Any]:
    """A policy as deployed when its condition holds (``!If [cond, policy, AWS::NoValue]``)."""
    return dict(policy["Fn::If"][1]) if "Fn::If" in policy else policy


def test_clip_jobs_run_on_a_state_machine_with_least_privilege(resources: dict[str, Any]) -> None:
    machine = resources["ClipsStateMachine"]["Properties"]
    assert machine["DefinitionUri"] == "statemachine/clips.asl.json"
    subs = machine["DefinitionSubstitutions"]
    assert subs["MaxConcurrency"] == {"Ref": "ClipConcurrency"}
    assert subs["ClipFunctionArn"] == {"Fn::GetAtt": ["ClipFunction", "Arn"]}
    invoked = {p["LambdaInvokePolicy"]["FunctionName"]["Ref"] for p in machine["Policies"] if "LambdaInvokePolicy" in p}
    assert invoked == {"ClipFunction", "FinishFunction", "Avi2Mp4Function"}
    # One image, a handler per function.
    assert resources["ClipFunction"]["Properties"]["ImageConfig"]["Command"] == ["handler.app.clip_handler"]
    assert resources["FinishFunction"]["Properties"]["ImageConfig"]["Command"] == ["handler.app.finish_handler"]
    # Clip jobs read the source and write outputs; only finish may delete a source.
    clip = _statements(resources["ClipFunction"])
    assert set(clip["ReadSourcesByRange"]["Action"]) == {"s3:GetObject", "s3:GetObjectVersion"}
    assert not any("s3:DeleteObject" in s["Action"] and "source" in str(s["Resource"]) for s in clip.values())
    assert "s3:DeleteObject" in _statements(resources["FinishFunction"])["DeleteConvertedSources"]["Action"]
    # The converting function may start executions of this state machine only.
    start = _statements(resources["Avi2Mp4Function"])["HandLongRecordingsToClipJobs"]
    assert start["Action"] == "states:StartExecution" and "stateMachine:${AWS::StackName}-clips" in str(
        start["Resource"]
    )
    env = resources["Avi2Mp4Function"]["Properties"]["Environment"]["Variables"]
    assert "stateMachine:${AWS::StackName}-clips" in str(env["STATE_MACHINE_ARN"])
    assert machine["Name"] == {"Fn::Sub": "${AWS::StackName}-clips"}


def test_state_machine_sample_events_match_what_the_definition_sends() -> None:
    # MaxConcurrency is a bare number substituted by SAM: the file is JSON once it is filled in.
    asl = json.loads((ROOT / "statemachine" / "clips.asl.json").read_text().replace("${MaxConcurrency}", "1"))
    samples = ROOT / "events" / "state-machine"

    def keys(template: dict[str, Any]) -> set[str]:
        return {k.removesuffix(".$") for k in template}

    states = asl["States"]
    assert set(json.loads((samples / "clip.json").read_text())) == keys(states["Clips"]["ItemSelector"])
    assert set(json.loads((samples / "finish.json").read_text())) == keys(states["Finish"]["Parameters"]["Payload"])
    assert set(json.loads((samples / "clean-up.json").read_text())) == keys(states["CleanUp"]["Parameters"]["Payload"])
    assert set(json.loads((samples / "one-pass.json").read_text())) == keys(states["OnePass"]["Parameters"]["Payload"])
    for name, state in (("clip.json", "clip"), ("finish.json", "finish"), ("clean-up.json", "clean_up"),
                        ("one-pass.json", "one_pass")):  # fmt: skip
        assert json.loads((samples / name).read_text())["task"] == state


FUNCTIONS = ("Avi2Mp4Function", "ClipFunction", "FinishFunction")


def test_inputs_cannot_steer_the_stack(resources: dict[str, Any]) -> None:
    """Only the stack's source bucket is converted; only the function's destination feeds the
    failure queue redrive replays; only this account's Batch Operations jobs assume their role; no
    function writes or deletes Batch Operations' manifests and reports."""
    source = {"Fn::Sub": "${AWS::StackName}-source-${AWS::AccountId}"}
    assert resources["SourceBucket"]["Properties"]["BucketName"] == source
    for name in FUNCTIONS:
        assert resources[name]["Properties"]["Environment"]["Variables"]["SOURCE_BUCKETS"] == source, name
        deny = _statements(resources[name])["KeepOffBatchOperationsFiles"]
        assert deny["Effect"] == "Deny" and set(deny["Action"]) == {"s3:PutObject", "s3:DeleteObject"}
        assert deny["Resource"] == {"Fn::Sub": "${VideoBucket.Arn}/batch-operations/*"}
    (queue,) = resources["FailureQueuePolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert (queue["Effect"], queue["Action"]) == ("Deny", "sqs:SendMessage")
    assert queue["Condition"]["ArnNotEquals"]["aws:PrincipalArn"] == {"Fn::GetAtt": ["Avi2Mp4FunctionRole", "Arn"]}
    (trust,) = resources["BatchOperationsRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Condition"]["StringEquals"]["aws:SourceAccount"] == {"Ref": "AWS::AccountId"}
    assert ":job/*" in trust["Condition"]["ArnLike"]["aws:SourceArn"]["Fn::Sub"]
