"""The EMF document and the settings, in-process: what CloudWatch would extract."""

from __future__ import annotations

import jsonschema
import pytest
from emf_check import VALIDATOR, check_emf
from emf_metrics import config
from emf_metrics.document import Measured, emf_document


def document(env: dict[str, str], measured: Measured, values: dict[str, str] | None = None) -> dict:
    settings = config.from_env(env)
    dims = values if values is not None else {name: value or f"v-{name}" for name, value in settings.dimensions}
    return emf_document(settings, dims, measured, 1_700_000_000_123, {"requestId": "r1", "middleware": "metrics"})


def test_a_success_document_passes_the_published_schema_with_every_metric_at_the_root() -> None:
    doc = document({"METRICS_NAMESPACE": "Shop", "METRICS_DIMENSIONS": "service,stage=prod"},
                   Measured(True, True, 12.34567, 300, 41))
    check_emf(doc)
    directive, = doc["_aws"]["CloudWatchMetrics"]
    assert doc["_aws"]["Timestamp"] == 1_700_000_000_123
    assert directive["Namespace"] == "Shop"
    assert directive["Dimensions"] == [["service", "stage"]]
    assert {m["Name"]: m["Unit"] for m in directive["Metrics"]} == {
        "Duration": "Milliseconds", "ColdStart": "Count", "Success": "Count", "Error": "Count",
        "RequestSize": "Bytes", "ResponseSize": "Bytes"}
    assert (doc["Duration"], doc["ColdStart"], doc["Success"], doc["Error"]) == (12.346, 1, 1, 0)
    assert (doc["RequestSize"], doc["ResponseSize"], doc["stage"]) == (300, 41, "prod")
    assert "StorageResolution" not in directive["Metrics"][0]  # 60, the default, goes unsaid


def test_the_error_type_gets_its_own_directive_counting_only_errors() -> None:
    doc = document({"METRICS_ERROR_TYPE_DIMENSION": "true", "METRICS_RESOLUTION": "1"},
                   Measured(False, False, 3.0, 10, None, "Runtime.HandlerError"))
    check_emf(doc)
    main, by_type = doc["_aws"]["CloudWatchMetrics"]
    assert "ResponseSize" not in doc and "ResponseSize" not in [m["Name"] for m in main["Metrics"]]
    assert by_type["Dimensions"] == [["service", "error_type"]]
    assert by_type["Metrics"] == [{"Name": "Error", "Unit": "Count", "StorageResolution": 1}]
    assert doc["error_type"] == "Runtime.HandlerError" and doc["Error"] == 1 and doc["Success"] == 0
    # Without the option the error type is not a dimension (one metric per type costs money).
    plain = document({}, Measured(False, False, error_type="X"))
    assert len(plain["_aws"]["CloudWatchMetrics"]) == 1 and "error_type" not in plain


def test_the_schema_check_catches_what_a_broken_document_would_get_wrong() -> None:
    doc = document({}, Measured(True, False, 1.0))
    del doc["_aws"]["Timestamp"]
    with pytest.raises(jsonschema.ValidationError):
        VALIDATOR.validate(doc)
    doc = document({}, Measured(True, False, 1.0))
    doc["service"] = 3  # a dimension value must be a string
    with pytest.raises(AssertionError):
        check_emf(doc)


@pytest.mark.parametrize(("env", "named"), [
    ({"METRICS_NAMESPACE": "AWS/Lambda"}, "METRICS_NAMESPACE"),
    ({"METRICS_NAMESPACE": "bad|name"}, "METRICS_NAMESPACE"),
    ({"METRICS_DIMENSIONS": "colour"}, "METRICS_DIMENSIONS: 'colour' is not one of"),
    ({"METRICS_DIMENSIONS": "Duration=1"}, "METRICS_DIMENSIONS: 'Duration'"),
    ({"METRICS_DIMENSIONS": "service,service"}, "listed twice"),
    ({"METRICS_DIMENSIONS": "stage="}, "the value of 'stage'"),
    ({"METRICS_DIMENSIONS": ",".join(f"d{i}=x" for i in range(30)), "METRICS_ERROR_TYPE_DIMENSION": "1"},
     "at most 30"),
    ({"METRICS_RESOLUTION": "5"}, "METRICS_RESOLUTION"),
    ({"METRICS_ERROR_TYPE_DIMENSION": "maybe"}, "METRICS_ERROR_TYPE_DIMENSION"),
])
def test_bad_settings_name_the_variable(env: dict[str, str], named: str) -> None:
    with pytest.raises(config.ConfigError, match=named.replace("|", r"\|")):
        config.from_env(env)


def test_builtin_dimensions_take_their_values_from_the_function_environment() -> None:
    env = {"AWS_LAMBDA_FUNCTION_NAME": "orders", "AWS_LAMBDA_FUNCTION_VERSION": "7"}
    assert config.service_name(env) == "orders"
    assert config.service_name({**env, "METRICS_SERVICE": "shop"}) == "shop"
    assert config.service_name({}) == "service_undefined"
    assert config.builtin_value("function_version", env, "s", None) == "7"
    assert config.builtin_value("event_source", env, "s", None) == "unknown"
    assert config.from_env({"METRICS_DIMENSIONS": "event_source"}).needs_event
    assert not config.from_env({}).needs_event
