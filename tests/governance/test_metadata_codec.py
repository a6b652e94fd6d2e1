"""contracts/metadata_codec.py: every encoded value fits SageMaker's CustomerMetadataValue and reads back."""

from __future__ import annotations

import botocore.session
import regex
from hypothesis import given
from hypothesis import strategies as st

from contracts.metadata_codec import MAX_VALUE, NONE, decode_list, decode_mapping, decode_text, encode_value
from mlops.aws_rules.service_model import java_to_python

_SHAPE = botocore.session.get_session().get_service_model("sagemaker").shape_for("CustomerMetadataValue")
VALUE = regex.compile(java_to_python(_SHAPE.metadata["pattern"]))


# Sizes whose encoding stays within 256 characters even when every character takes 4 UTF-8 bytes (12 characters
# escaped): longer values are cut (the last test), which no decoding can undo.


def _fits(encoded: str) -> bool:
    return 1 <= len(encoded) <= _SHAPE.metadata["max"] and VALUE.fullmatch(encoded) is not None


@given(st.text(max_size=21))
def test_any_text_fits_and_reads_back(text: str) -> None:
    encoded = encode_value(text)
    assert _fits(encoded)
    assert decode_text(encoded) == (text or None)


@given(st.lists(st.text(min_size=1, max_size=5), min_size=1, max_size=4))
def test_any_list_fits_and_reads_back(items: list[str]) -> None:
    encoded = encode_value(items)
    assert _fits(encoded)
    assert decode_list(encoded) == items


@given(st.dictionaries(st.text(min_size=1, max_size=3), st.text(max_size=3), min_size=1, max_size=3))
def test_any_mapping_fits_and_reads_back(mapping: dict[str, str]) -> None:
    encoded = encode_value(mapping)
    assert _fits(encoded)
    assert decode_mapping(encoded) == mapping


def test_plain_values_are_unchanged_and_nothing_is_none() -> None:
    arn = "arn:aws:sagemaker:us-east-1:111111111111:pipeline/p/execution/abc123"
    assert [encode_value(v) for v in (arn, True, 0.968, 10000, "ready")] == [arn, "true", "0.968", "10000", "ready"]
    assert {encode_value(v) for v in (None, "", [], {})} == {NONE}
    assert decode_text(encode_value("none")) == "none" and decode_list(encode_value(["none"])) == ["none"]


def test_a_long_value_keeps_its_tail_and_never_cuts_an_escape() -> None:
    encoded = encode_value("/data/" + "é" * 200 + "/credit.csv")
    assert _fits(encoded) and len(encoded) <= MAX_VALUE
    assert encoded.startswith("...=") and decode_text(encoded).endswith("é/credit.csv")
