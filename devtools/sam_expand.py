"""The template as CloudFormation sees it once SAM has expanded it (functions into roles, policies,
permissions, event source mappings), written to a file: what `make lint` scans with checkov beside
the template as written. Runs in the SAM CLI's venv (its samtranslator), with no AWS access."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


class _NoManagedPolicies:
    """The stack names no managed policy by name, so SAM has nothing to look up."""

    def load(self) -> dict[str, str]:
        return {}


IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/avi2mp4:scan"


def expand(template: Path) -> dict[str, Any]:
    """As `sam package` would leave it (an image URI; the state machine's definition in place),
    then expanded."""
    from samtranslator.translator.transform import transform  # the SAM CLI's venv has it
    from samtranslator.yaml_helper import yaml_parse

    document: dict[str, Any] = yaml_parse(template.read_text())
    for resource in document["Resources"].values():
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::Serverless::Function" and props.get("PackageType") == "Image":
            props["ImageUri"] = IMAGE
        if resource["Type"] == "AWS::Serverless::StateMachine" and "DefinitionUri" in props:
            props["Definition"] = json.loads((template.parent / props.pop("DefinitionUri")).read_text()
                                             .replace("${MaxConcurrency}", "1"))  # fmt: skip
    expanded: dict[str, Any] = transform(document, {}, _NoManagedPolicies())
    return expanded


if __name__ == "__main__":
    source, target = Path(sys.argv[1]), Path(sys.argv[2])
    target.write_text(json.dumps(expand(source), indent=1, default=str))
    print(f"{target}: {len(expand(source)['Resources'])} resources, as SAM expands {source}")
