"""cfn-lint on every synthesized template: errors fail the build.

Ignored: W3005 (an explicit DependsOn that is also implied by a reference): the explicit dependency documents
intent (the pipeline needs its role's policy in place before CloudFormation creates it).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

IGNORED = ["W3005"]


def test_templates_have_no_cfn_lint_errors(synthesized) -> None:
    templates = sorted(synthesized.outdir.glob("*.template.json"))
    assert len(templates) == len(synthesized.templates)
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "cfn-lint"),
            "--format",
            "parseable",
            "--non-zero-exit-code",
            "error",
            "--ignore-checks",
            *IGNORED,
            "--",
            *map(str, templates),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "", result.stdout  # warnings are shown to the reviewer, not tolerated
