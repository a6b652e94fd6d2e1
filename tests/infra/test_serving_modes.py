"""The serving stack in every serving mode: one construct per mode, each building only its resources.

The snapshots were taken before the serving stack became one construct per mode (issue #18 item 3), so they show
that the refactor changed no template: no logical id (a changed one makes CloudFormation replace the production
endpoint), no property, no grant. The multi_model mode with the XGBoost engine has no snapshot: the config refuses
it (test below). The monitoring stack is snapshotted where the mode or Model Monitor changes it.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, get_args, get_type_hints

import pytest
from syrupy.extensions.json import JSONSnapshotExtension

from platform_config.platform import ConfigError, load_config
from tests.conftest import cdk_context, synth_app
from tests.infra.test_snapshots import normalise

# name -> platform config overrides: every serving mode, and the settings that change what a mode builds.
CONFIGS: dict[str, dict[str, Any]] = {
    "realtime": {},
    "realtime-canary": {"endpoint_min_instances": 2},  # two instances: canary traffic shifting
    "realtime-xgboost": {"training_engine": "xgboost"},  # the XGBoost image's pull grant
    "realtime-no-batch": {"batch_transform": False},
    "realtime-model-monitor": {"model_monitor_enabled": True},
    "serverless": {"serving_mode": "serverless"},
    "async": {"serving_mode": "async"},
    "multi_model": {"serving_mode": "multi_model"},
    "triton": {"serving_mode": "triton", "training_engine": "xgboost"},
    "triton-model-monitor": {"serving_mode": "triton", "training_engine": "xgboost", "model_monitor_enabled": True},
}
# Model Monitor changes the monitoring stack only; the monitoring stack changes with the Triton mode only.
MONITOR_ONLY = ("realtime-model-monitor", "triton-model-monitor")
MONITORED = ("realtime", "triton", *MONITOR_ONLY)
SNAPSHOTS = [(name, "serving") for name in CONFIGS if name not in MONITOR_ONLY] + [
    (name, "monitoring") for name in MONITORED
]


@pytest.fixture(scope="module")
def templates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, dict[str, Any]]]:
    """Stack suffix -> template, per config name (one process: a synth after the first takes about 2 s)."""
    synthesized = {}
    for name, overrides in CONFIGS.items():
        context = cdk_context()
        context["platform"] = {**context["platform"], **overrides}
        out: Path = tmp_path_factory.mktemp(name)
        app = synth_app(out, context)
        synthesized[name] = {suffix: app.template(f"-{suffix}") for suffix in ("serving", "monitoring")}
    return synthesized


@pytest.fixture()
def snapshot_json(snapshot):  # type: ignore[no-untyped-def]
    return snapshot.use_extension(JSONSnapshotExtension)


@pytest.mark.parametrize(("name", "stack"), SNAPSHOTS, ids=[f"{n}-{s}" for n, s in SNAPSHOTS])
def test_mode_template_snapshot(templates, snapshot_json, name: str, stack: str) -> None:
    assert normalise(templates[name][stack]) == snapshot_json


# -- each mode builds its own resources, and only those -------------------------------------------------------------


def _of_type(template: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [r for r in template["Resources"].values() if r["Type"] == kind]


def _shape(template: dict[str, Any]) -> dict[str, Any]:
    """What distinguishes the modes' serving templates, read from the template."""
    (model,) = _of_type(template, "AWS::SageMaker::Model")
    container = model["Properties"].get("PrimaryContainer", {})
    image = str(container.get("Image", ""))
    kind = "package" if "Containers" in model["Properties"] else "triton" if "tritonserver" in image else "sklearn"
    (endpoint_config,) = _of_type(template, "AWS::SageMaker::EndpointConfig")
    (variant,) = endpoint_config["Properties"]["ProductionVariants"]
    (deploy,) = [
        f
        for f in _of_type(template, "AWS::Lambda::Function")
        if "SERVING_STACK_NAME" in f["Properties"]["Environment"]["Variables"]
    ]
    mode_keys = {"MULTI_MODEL_URL", "TRITON_MODEL_URL", "TRITON_LIVE_MODEL_PARAMETER", "ENDPOINT_CONFIG_LOGICAL_ID"}
    guarded = {r.get("Condition") for r in template["Resources"].values() if r["Type"].startswith("AWS::SageMaker")}
    return {
        "model": kind + (" MultiModel" if container.get("Mode") == "MultiModel" else ""),
        "endpoint waits for a model": guarded == {"HasApprovedModel"},
        "condition": "HasApprovedModel" in template.get("Conditions", {}),
        "serverless": "ServerlessConfig" in variant,
        "data capture": "DataCaptureConfig" in endpoint_config["Properties"],
        "async": "AsyncInferenceConfig" in endpoint_config["Properties"],
        "scaling": bool(_of_type(template, "AWS::ApplicationAutoScaling::ScalableTarget")),
        "live model parameter": bool(_of_type(template, "AWS::SSM::Parameter")),
        "deploy env": sorted(mode_keys & set(deploy["Properties"]["Environment"]["Variables"])),
        "live check alarm": any(
            a["Properties"].get("MetricName") == "LiveConfigMismatch"
            for a in _of_type(template, "AWS::CloudWatch::Alarm")
        ),
    }


_SINGLE = {
    "model": "package",
    "endpoint waits for a model": True,
    "condition": True,
    "serverless": False,
    "data capture": True,
    "async": False,
    "scaling": True,
    "live model parameter": False,
    "deploy env": ["ENDPOINT_CONFIG_LOGICAL_ID"],
    "live check alarm": True,
}
EXPECTED_SHAPES = {
    "realtime": _SINGLE,
    "serverless": {**_SINGLE, "serverless": True, "data capture": False, "scaling": False},
    "async": {**_SINGLE, "async": True, "scaling": False},
    "multi_model": {
        **_SINGLE,
        "model": "sklearn MultiModel",
        "endpoint waits for a model": False,
        "deploy env": ["MULTI_MODEL_URL"],
        "live check alarm": False,
    },
    "triton": {
        **_SINGLE,
        "model": "triton MultiModel",
        "endpoint waits for a model": False,
        "condition": False,
        "live model parameter": True,
        "deploy env": ["TRITON_LIVE_MODEL_PARAMETER", "TRITON_MODEL_URL"],
        "live check alarm": False,
    },
}


@pytest.mark.parametrize("mode", EXPECTED_SHAPES)
def test_each_mode_builds_only_its_resources(templates, mode: str) -> None:
    assert _shape(templates[mode]["serving"]) == EXPECTED_SHAPES[mode]


def test_the_mode_map_covers_every_configurable_mode() -> None:
    from platform_config.platform import PlatformConfig
    from stacks.serving.modes import MODES

    assert set(MODES) == set(get_args(get_type_hints(PlatformConfig)["serving_mode"])) == set(EXPECTED_SHAPES)


@pytest.mark.parametrize("mode", EXPECTED_SHAPES)
def test_the_stack_holds_one_mode_construct_with_the_id_that_keeps_logical_ids(mode: str) -> None:
    """No construct is built and then removed: the stack's tree holds the configured mode's construct only."""
    import aws_cdk as cdk

    from platform_config.platform import config_from_app_context
    from stacks.platform import add_platform
    from stacks.serving.modes import MODES, ServingMode

    context = cdk_context()
    context["platform"] = {**context["platform"], **CONFIGS[mode]}
    app = cdk.App(context=context)
    serving = add_platform(app, config_from_app_context(app.node.try_get_context)).serving
    modes = [c for c in serving.node.find_all() if isinstance(c, ServingMode)]
    assert [type(m) for m in modes] == [MODES[mode]]
    assert modes[0].node.scope is serving and modes[0].node.id == "Default"  # "Default": no logical-id component


def test_an_unknown_mode_is_a_config_error_naming_the_value_and_the_allowed_ones() -> None:
    from stacks.serving.modes import mode_class

    with pytest.raises(ConfigError, match=r"config key 'serving_mode'.*'batch'.*realtime.*serverless.*triton"):
        load_config({"serving_mode": "batch"})
    # A config built without load_config (no parse step) meets the same rule where the stack picks the mode.
    config = dataclasses.replace(load_config(), serving_mode="batch")  # type: ignore[arg-type]
    with pytest.raises(ConfigError) as refused:
        mode_class(config)
    assert str(refused.value) == (
        "config key 'serving_mode': unknown serving mode 'batch' (allowed: realtime, serverless, async, multi_model, "
        "triton)"
    )


def test_multi_model_refuses_the_xgboost_engine_at_config_validation() -> None:
    """The SageMaker XGBoost container: "Multi model not supported in script mode." (serving_mms.py)."""
    with pytest.raises(ConfigError, match=r"config key 'serving_mode': 'multi_model' cannot serve .*'xgboost'.*script"):
        load_config({"serving_mode": "multi_model", "training_engine": "xgboost"})
    assert load_config({"serving_mode": "multi_model"}).training_engine == "sklearn"
    assert load_config({"serving_mode": "triton", "training_engine": "xgboost"}).serving_mode == "triton"


def test_no_stack_builds_a_construct_and_then_removes_it() -> None:
    from tests.conftest import REPO

    builders = [p for p in (REPO / "stacks").rglob("*.py") if "try_remove_child" in p.read_text(encoding="utf-8")]
    assert builders == []
