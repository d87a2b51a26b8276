"""The fast decoder is built from the models, or not at all: what it cannot state, it refuses.

A contract change the generator does not understand (a new custom validator, a
setting that changes validation, a pattern Python's re might read differently)
must fail when the decoder is built, never let the fast path accept what
pydantic rejects.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import orjson
import pytest
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from tracestream.schemas._derive import UnsupportedContract
from tracestream.schemas._fast_parse import FastDecoder

pytestmark = pytest.mark.unit


def _union(*models: type[BaseModel]) -> Any:
    members: Any = models[0]
    for model in models[1:]:
        members = members | model
    return Annotated[members, Field(discriminator="kind")]


class _Base(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    kind: Literal["a"]


def test_a_plain_model_decodes_with_its_constraints() -> None:
    class Item(BaseModel):
        model_config = ConfigDict(extra="forbid")
        label: str = Field(min_length=1, max_length=3)

    class A(_Base):
        count: int = Field(0, ge=0, le=9)
        code: Annotated[str, Field(pattern=r"^[a-z]{2}$")] = "ab"
        items: tuple[Item, ...] = Field((), max_length=2)

    decoder = FastDecoder(_union(A))
    event = decoder.validate(orjson.dumps({"kind": "a", "count": 3, "items": [{"label": "x"}]}))
    assert event == A(kind="a", count=3, items=(Item(label="x"),))
    for bad in (
        {"count": 10},
        {"code": "abc"},
        {"code": "ab\n"},
        {"items": [{"label": ""}]},
        {"items": [{"label": "x"}] * 3},
        {"other": 1},
        {"items": [{"label": "x", "other": 1}]},
    ):
        assert decoder.validate(orjson.dumps({"kind": "a", **bad})) is None, bad


def test_a_validator_without_a_twin_is_refused() -> None:
    def _upper(value: str) -> str:
        return value.upper()

    class Shouting(_Base):
        text: Annotated[str, AfterValidator(_upper)]

    class Checked(_Base):
        text: str

        @model_validator(mode="after")
        def _no_x(self) -> Checked:
            if "x" in self.text:
                raise ValueError("no x")
            return self

    class FieldChecked(_Base):
        text: str

        @field_validator("text")
        @classmethod
        def _strip(cls, value: str) -> str:
            return value.strip()

    for model in (Shouting, Checked, FieldChecked):
        with pytest.raises(UnsupportedContract, match="twin"):
            FastDecoder(_union(model))


@pytest.mark.parametrize(
    ("config", "match"),
    [
        (ConfigDict(extra="allow"), "extra='allow'"),
        (ConfigDict(str_strip_whitespace=True), "str_strip_whitespace"),
        (ConfigDict(strict=True), "strict"),
        (ConfigDict(str_max_length=10), "str_max_length"),
    ],
)
def test_a_setting_that_changes_validation_is_refused(config: ConfigDict, match: str) -> None:
    class A(_Base):
        model_config = config

    with pytest.raises(UnsupportedContract, match=match):
        FastDecoder(_union(A))


def test_a_pattern_the_two_regex_engines_might_read_differently_is_refused() -> None:
    class A(_Base):
        code: str = Field(pattern=r"^\d+$")

    with pytest.raises(UnsupportedContract, match="pattern"):
        FastDecoder(_union(A))


def test_an_unknown_type_is_refused() -> None:
    class A(_Base):
        ratio: complex = 0j

    with pytest.raises(UnsupportedContract, match="not supported"):
        FastDecoder(_union(A))
