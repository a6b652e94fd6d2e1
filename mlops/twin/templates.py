"""Read the synthesized cloud assembly and resolve CloudFormation intrinsics against the twin's resources."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Assembly:
    """The templates of one `cdk synth` output folder."""

    outdir: Path
    templates: dict[str, dict[str, Any]]

    @classmethod
    def load(cls, outdir: Path) -> Assembly:
        outdir = outdir.resolve()  # asset folders are handed to the handler loader, which needs absolute paths
        files = sorted(outdir.glob("*.template.json"))
        if not files:
            raise FileNotFoundError(f"{outdir}: no *.template.json (run `make synth` first)")
        return cls(outdir, {f.name.removesuffix(".template.json"): json.loads(f.read_text()) for f in files})

    def stack(self, suffix: str) -> tuple[str, dict[str, Any]]:
        matches = [name for name in self.templates if name.endswith(suffix)]
        if len(matches) != 1:
            raise KeyError(f"expected one stack ending in {suffix!r}, found {sorted(self.templates)}")
        return matches[0], self.templates[matches[0]]

    def resources(self, stack: str, kind: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.templates[stack]["Resources"].items() if v["Type"] == kind}

    def asset_dir(self, code: Mapping[str, Any]) -> Path:
        """The staged folder of a Lambda's code asset (`asset.<hash>` in the assembly)."""
        digest = str(code["S3Key"]).split(".", 1)[0]
        path = self.outdir / f"asset.{digest}"
        if not path.is_dir():
            raise FileNotFoundError(f"{path}: Lambda code asset not staged")
        return path


@dataclass
class Resolver:
    """Resolves Ref / Fn::GetAtt / Fn::Join / Fn::Sub / Fn::ImportValue with what the twin created.

    `physical[(stack, logical_id)]` is a resource's Ref value and `attributes[(stack, logical_id, attr)]` its
    attributes; pseudo parameters come from `pseudo`; cross-stack imports resolve through the exporting stack's
    outputs.
    """

    assembly: Assembly
    pseudo: dict[str, str]
    physical: dict[tuple[str, str], str] = field(default_factory=dict)
    attributes: dict[tuple[str, str, str], str] = field(default_factory=dict)
    stack_ids: dict[str, str] = field(default_factory=dict)  # stack name -> AWS::StackId, for stacks the twin created

    def resolve(self, stack: str, node: Any) -> Any:
        if isinstance(node, list):
            return [self.resolve(stack, item) for item in node]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            ((key, value),) = node.items()
            if key == "Ref":
                return self._ref(stack, value)
            if key == "Fn::GetAtt":
                logical, attribute = value
                return self._attribute(stack, logical, attribute)
            if key == "Fn::Join":
                delimiter, parts = value
                return delimiter.join(str(self.resolve(stack, p)) for p in parts)
            if key == "Fn::Sub":
                return self._sub(stack, value)
            if key == "Fn::ImportValue":
                return self._import(self.resolve(stack, value))
        return {k: self.resolve(stack, v) for k, v in node.items()}

    def _ref(self, stack: str, name: str) -> str:
        if name in self.pseudo:
            return self.pseudo[name]
        if name == "AWS::StackName":
            return stack
        if name == "AWS::StackId" and stack in self.stack_ids:
            return self.stack_ids[stack]
        if (stack, name) in self.physical:
            return self.physical[(stack, name)]
        parameter = self.assembly.templates[stack].get("Parameters", {}).get(name)
        if parameter is not None and "Default" in parameter:
            return str(parameter["Default"])
        raise KeyError(f"{stack}: cannot resolve Ref {name!r}: the twin did not create it")

    def _attribute(self, stack: str, logical: str, attribute: str) -> str:
        key = (stack, logical, attribute)
        if key not in self.attributes:
            raise KeyError(f"{stack}: cannot resolve {logical}.{attribute}: the twin did not create it")
        return self.attributes[key]

    def _sub(self, stack: str, value: Any) -> str:
        text, variables = (value, {}) if isinstance(value, str) else value
        resolved = {k: str(self.resolve(stack, v)) for k, v in variables.items()}
        out, i = [], 0
        while i < len(text):
            start = text.find("${", i)
            if start < 0:
                out.append(text[i:])
                break
            end = text.index("}", start)
            out.append(text[i:start])
            name = text[start + 2 : end]
            out.append(resolved[name] if name in resolved else self._ref(stack, name))
            i = end + 1
        return "".join(out)

    def _import(self, export_name: str) -> str:
        for stack, template in self.assembly.templates.items():
            for output in template.get("Outputs", {}).values():
                if output.get("Export", {}).get("Name") == export_name:
                    return str(self.resolve(stack, output["Value"]))
        raise KeyError(f"no stack exports {export_name!r}")
