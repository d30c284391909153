"""The envelope parser on any bytes: a parsed envelope or InvalidInput, never another error."""

from __future__ import annotations

import contextlib
import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from passerelle.core.errors import InvalidInput
from passerelle.core.exchange import parse_page
from passerelle.exchange.signing import claimed, new_key_pair, open_private, seal, unseal

PUBLIC, SEALED = new_key_pair("secret-des-tests-de-proprietes")
KEY = open_private(SEALED, "secret-des-tests-de-proprietes")
LIMIT = 256 * 1024

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


def _parse(body: bytes) -> dict[str, Any] | None:
    try:
        document = unseal(body, PUBLIC, max_bytes=LIMIT)
    except InvalidInput:
        document = None
    with contextlib.suppress(InvalidInput):
        claimed(body)
    return document


@given(st.binary(max_size=2048))
def test_any_bytes_are_an_envelope_or_invalid_input(body: bytes) -> None:
    assert _parse(body) is None  # random bytes never carry our signature


@given(json_values)
def test_any_json_is_an_envelope_or_invalid_input(value: object) -> None:
    assert _parse(json.dumps(value).encode()) is None


@given(st.dictionaries(st.text(max_size=10), json_values, max_size=6), st.binary(max_size=64))
def test_a_signed_document_reads_back_and_a_changed_byte_is_refused(
    document: dict[str, Any], noise: bytes
) -> None:
    body = seal(document, KEY)
    assert _parse(body) == json.loads(json.dumps(document))
    changed = body[:-2] + noise + body[-2:]
    assert noise == b"" or _parse(changed) is None


@settings(max_examples=50)
@given(st.integers(min_value=1, max_value=200_000))
def test_deep_nesting_is_invalid_input(depth: int) -> None:
    nested = b"[" * depth + b"]" * depth
    assert _parse(nested) is None
    inner = json.dumps({"payload": "[" * depth + "]" * depth, "signature": ""}).encode()
    assert _parse(inner) is None


PAGE_KEYS = ("schema", "nonce", "audit_head", "publisher", "subscriber", "cursor", "next_cursor")
ENTRY_KEYS = ("seq", "kind", "signal_type", "value", "category", "tier", "tags", "decision")
pages = st.fixed_dictionaries(
    {key: json_values for key in PAGE_KEYS}
    | {
        "schema": st.sampled_from(["passerelle-feed/2", "passerelle-feed/1"]) | json_values,
        "more": json_values,
        "issued_at": st.sampled_from(["2026-12-01T10:00:00+00:00", "hier"]) | json_values,
        "entries": st.lists(
            st.fixed_dictionaries(
                {key: json_values for key in ENTRY_KEYS}
                | {k: json_values for k in ("agreement", "distribution", "tlp", "at")}
            ),
            max_size=3,
        ),
    }
)


@given(json_values | pages)
def test_any_feed_document_is_a_page_or_invalid_input(value: object) -> None:
    with contextlib.suppress(InvalidInput):
        parse_page(value)
