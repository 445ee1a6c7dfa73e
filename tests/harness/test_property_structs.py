"""The harness sends properties to the plugin exactly as the SDK's own serializer would encode them."""

from __future__ import annotations

import asyncio
from typing import Any

import pulumi
import pytest
from pulumi.runtime import rpc

from pulumi_aoai_finetuning.testing.provider_calls import UNKNOWN, to_struct

SECRET = rpc.wrap_rpc_secret("s3cr3t")
CASES: list[dict[str, Any]] = [
    {},
    {"endpoint": "https://a.openai.azure.com/", "examples": 12, "bytes": 2128.0, "validate": True, "format": None},
    {"token_count": {"examples": 12, "file": "d.jsonl", "max_example_line": None}, "tags": ["a", None, 1, 2.5]},
    {"nested": {"deeper": {"list": [[1, 2], (3, 4), {"x": False}]}}, "empty": {}, "none_list": []},
    {"unknown": UNKNOWN, "in_list": [UNKNOWN], "in_dict": {"k": UNKNOWN}},
    {"secret": SECRET, "secret_in_dict": {"key": SECRET}, "secret_unknown": rpc.wrap_rpc_secret(UNKNOWN)},
    {"big": 10**20, "negative": -3, "zero": 0, "text": "é ü 中"},
]


def _sdk_encoding(props: dict[str, Any]) -> Any:
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(rpc.serialize_properties(dict(props), {}))
    finally:
        loop.close()


@pytest.mark.parametrize("props", CASES)
def test_plain_properties_encode_as_the_sdk_encodes_them(props: dict[str, Any]) -> None:
    """Plain data, secrets and unknowns make the same Struct whether copied directly or serialized by the SDK."""
    assert to_struct(props) == _sdk_encoding(props)


def test_a_property_that_is_not_plain_data_still_goes_through_the_sdk() -> None:
    """An asset is not JSON data: it is serialized by the SDK, with its signature, not copied as an object."""
    props = {"asset": pulumi.StringAsset("hello"), "name": "x"}
    struct = to_struct(props)
    assert struct == _sdk_encoding(props)
    assert struct["asset"]["text"] == "hello"
