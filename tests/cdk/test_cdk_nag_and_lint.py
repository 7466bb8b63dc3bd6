"""cdk-nag (AwsSolutions) and cfn-lint over every synthesized template.

The session synth runs with the nag plugin: an unacknowledged finding makes ``app.synth()``
raise, so merely having the ``synth`` fixture proves the app is nag-clean. These tests check
the acknowledgements themselves and prove the plugin does fail on a real finding.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from aws_cdk import App, Stack, Validations
from aws_cdk import aws_s3 as s3
from cdk_helpers import Synthesized, cfn_lint_errors
from cdk_nag import AwsSolutionsChecks
from knowledgebeast_cdk.nag_suppressions import acknowledge_findings, acknowledgements

STACK_NAMES = {"Storage": "KnowledgeBeast-Storage"}


def test_app_is_nag_clean(synth: Synthesized) -> None:
    assert (
        not (synth.outdir / "validation-report.json").exists()
        or '"conclusion": "failure"' not in (synth.outdir / "validation-report.json").read_text()
    )


def test_every_acknowledgement_is_exact_and_explained() -> None:
    acks = acknowledgements(STACK_NAMES)
    assert len({(a.stack, a.path, a.finding) for a in acks}) == len(acks), "duplicate acknowledgement"
    for ack in acks:
        assert ack.finding.startswith("AwsSolutions-"), ack
        rule = ack.finding.split("[", 1)[0]
        if rule in ("AwsSolutions-IAM4", "AwsSolutions-IAM5"):
            assert "[" in ack.finding, f"{rule} must name the exact finding, got {ack.finding}"
        assert len(ack.reason) >= 40, f"reason too thin for {ack.finding}"


def test_stale_acknowledgement_fails_loudly() -> None:
    app = App(builtin_cloud_formation_validation=False)
    with pytest.raises(KeyError, match="does not exist"):
        acknowledge_findings({"Storage": Stack(app, "KnowledgeBeast-Storage")})


def test_nag_plugin_fails_synth_on_an_unacknowledged_finding(tmp_path: Path) -> None:
    app = App(builtin_cloud_formation_validation=False, outdir=str(tmp_path))
    stack = Stack(app, "Bad")
    s3.Bucket(stack, "Open")  # no access logs, no TLS enforcement
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    with pytest.raises(RuntimeError, match=r"AwsSolutions-S10"):
        app.synth()


def test_cfn_lint_reports_no_errors(synth: Synthesized) -> None:
    """Errors fail; warnings (e.g. W3005 on CDK's own redundant DependsOn) are CDK-generated noise."""
    templates = sorted(str(path) for path in synth.outdir.glob("*.template.json"))
    assert len(templates) == len(synth.templates) == 9
    errors = cfn_lint_errors(templates)
    assert not errors, "\n".join(errors)
