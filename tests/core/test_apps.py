"""The plugin API's declarative metadata: argument validation and JSON Schema export."""

from __future__ import annotations

import jsonschema
import pytest

from docg_core.apps import (
    ActionArgument,
    ActionResult,
    ArgumentType,
    AuthSpec,
    DropdownOption,
    DynamicData,
    validate_arguments,
)
from docg_core.errors import ValidationError
from docg_core.plugins import get_registry


def arg(type_: ArgumentType, **kw: object) -> ActionArgument:
    return ActionArgument(key="x", label="X", type=type_, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("type_", "given", "expected"),
    [
        (ArgumentType.NUMBER, "42", 42),
        (ArgumentType.NUMBER, " 4.5 ", 4.5),
        (ArgumentType.NUMBER, 7, 7),
        (ArgumentType.BOOLEAN, "true", True),
        (ArgumentType.BOOLEAN, "No", False),
        (ArgumentType.BOOLEAN, 1, True),
        (ArgumentType.STRING, 12, "12"),
        (ArgumentType.STRING, False, "false"),
        (ArgumentType.JSON, '{"a": [1]}', {"a": [1]}),
        (ArgumentType.JSON, [1, 2], [1, 2]),
        (ArgumentType.DATE, "2026-11-26T10:00:00Z", "2026-11-26"),
        (ArgumentType.DATETIME, "2026-11-26T10:00:00Z", "2026-11-26T10:00:00+00:00"),
        (ArgumentType.FILE, "docg/org/templates/a.docx", "docg/org/templates/a.docx"),
    ],
)
def test_values_are_coerced_to_the_argument_type(
    type_: ArgumentType, given: object, expected: object
) -> None:
    assert validate_arguments([arg(type_)], {"x": given}) == {"x": expected}


@pytest.mark.parametrize(
    ("type_", "given", "message"),
    [
        (ArgumentType.NUMBER, "abc", "expected a number"),
        (ArgumentType.NUMBER, True, "got a boolean"),
        (ArgumentType.NUMBER, "nan", "finite"),
        (ArgumentType.BOOLEAN, "perhaps", "expected true or false"),
        (ArgumentType.STRING, {"a": 1}, "expected text, got an object"),
        (ArgumentType.JSON, "{oops", "invalid JSON"),
        (ArgumentType.DATE, "26/11/2026", "expected a date"),
        (ArgumentType.DATETIME, "yesterday", "ISO 8601"),
    ],
)
def test_bad_values_name_the_node_and_argument(
    type_: ArgumentType, given: object, message: str
) -> None:
    with pytest.raises(ValidationError) as info:
        validate_arguments([arg(type_)], {"x": given}, node_id="n1")
    (problem,) = info.value.problems
    assert (problem.node_id, problem.field) == ("n1", "x")
    assert message in problem.message
    assert "node 'n1': 'x'" in str(info.value)


def test_dropdown_values_must_be_one_of_the_options() -> None:
    choice = arg(ArgumentType.DROPDOWN, options=(DropdownOption("a"), DropdownOption(2)))
    assert validate_arguments([choice], {"x": "2"}) == {"x": 2}
    with pytest.raises(ValidationError, match="'c' is not one of 'a', 2"):
        validate_arguments([choice], {"x": "c"})


def test_required_arguments_and_defaults() -> None:
    args = [
        ActionArgument(key="a", label="A", required=True),
        ActionArgument(key="b", label="B", default="dflt"),
    ]
    with pytest.raises(ValidationError) as info:
        validate_arguments(args, {"a": ""})
    assert [p.field for p in info.value.problems] == ["a"]
    assert validate_arguments(args, {"a": "x"}) == {"a": "x", "b": "dflt"}


def test_every_problem_is_reported_at_once() -> None:
    args = [arg(ArgumentType.NUMBER), ActionArgument(key="y", label="Y", required=True)]
    with pytest.raises(ValidationError) as info:
        validate_arguments(args, {"x": "no"})
    assert [p.field for p in info.value.problems] == ["x", "y"]


def test_multiple_values_are_coerced_one_by_one() -> None:
    many = arg(ArgumentType.NUMBER, multiple=True)
    assert validate_arguments([many], {"x": ["1", 2]}) == {"x": [1, 2]}


def test_every_builtin_action_and_trigger_exports_a_valid_json_schema() -> None:
    for app in get_registry().apps():
        for item in [*app.actions, *app.triggers]:
            schema = item.json_schema()
            jsonschema.Draft202012Validator.check_schema(schema)
            assert set(schema["required"]) <= set(schema["properties"])


def test_schema_describes_types_options_sources_and_secrets() -> None:
    args = [
        ActionArgument(key="n", label="N", type=ArgumentType.NUMBER, required=True),
        ActionArgument(
            key="d",
            label="D",
            type=ArgumentType.DROPDOWN,
            options=(DropdownOption("a", "Option A"),),
        ),
        ActionArgument(
            key="p",
            label="P",
            type=ArgumentType.DROPDOWN,
            source=DynamicData("pipelines"),
            depends_on="n",
        ),
        ActionArgument(key="s", label="S", secret=True),
    ]
    from docg_core.apps import arguments_json_schema

    schema = arguments_json_schema("T", args)
    jsonschema.Draft202012Validator.check_schema(schema)
    props = schema["properties"]
    assert props["n"]["type"] == "number" and schema["required"] == ["n"]
    assert props["d"]["enum"] == ["a"]
    assert props["d"]["x-docg-options"] == [{"value": "a", "label": "Option A"}]
    assert props["p"]["x-docg-source"] == "pipelines" and props["p"]["x-docg-depends-on"] == ["n"]
    assert props["s"]["writeOnly"] is True
    validator = jsonschema.Draft202012Validator(schema)
    assert validator.is_valid({"n": 3, "d": "a"})
    assert not validator.is_valid({"n": "three"})


def test_app_metadata_is_listed_without_running_anything() -> None:
    listing = [app.to_dict() for app in get_registry().apps()]
    formatter = next(a for a in listing if a["key"] == "formatter")
    assert {a["key"] for a in formatter["actions"]} == {"text", "number", "date"}


def test_auth_specs() -> None:
    oauth = AuthSpec.oauth2(
        authorize_url="https://a/authorize", token_url="https://a/token", scopes=["crm.read"]
    )
    assert oauth.pkce is True and oauth.scopes == ("crm.read",)
    assert "access_token" in oauth.secret_keys
    assert AuthSpec.api_key().secret_keys == {"api_key"}
    assert AuthSpec.basic().secret_keys == {"password"}
    jsonschema.Draft202012Validator.check_schema(AuthSpec.basic().to_dict()["fields"])


def test_wait_and_end_results() -> None:
    waiting = ActionResult.wait("approval", resume_token="t", data={"a": 1})
    assert waiting.waiting is not None and waiting.waiting.reason == "approval"
    assert waiting.to_output() == {"raw": None, "data": {"a": 1}, "metadata": {}}
    assert ActionResult.end({"x": 1}).ends_execution
