"""Every signal type passes the same suite: stored names, parse/dump round trips, distances,
thresholds, and clear errors on bad values."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from passerelle.core.errors import InvalidInput
from passerelle.core.signals import SIGNAL_TYPES, Signal, get_signal_type, parse_signal
from passerelle.core.signals.digests import MD5, SHA256
from passerelle.core.signals.pdq import PDQ
from passerelle.core.signals.text import TEXT
from passerelle.core.signals.url import URL
from passerelle.core.signals.vpdq import VpdqFrame, to_signal

SAMPLES: dict[str, list[Signal]] = {
    "sha256": [SHA256.compute(b"a"), SHA256.compute(b"b")],
    "md5": [MD5.compute(b"a"), MD5.compute(b"b")],
    "pdq": [PDQ.parse("f" * 64), PDQ.parse("0" * 64)],
    "url": [URL.compute("https://example.org/a"), URL.compute("https://example.org/b")],
    "text": [
        TEXT.compute("un deux trois quatre cinq six sept huit neuf dix onze douze treize")
        or Signal("text", ""),
        TEXT.compute("alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu")
        or Signal("text", ""),
    ],
    "vpdq": [
        to_signal([VpdqFrame("f" * 64, 100, 0.0), VpdqFrame("f0" * 32, 90, 1.0)]),
        to_signal([VpdqFrame("0" * 64, 100, 0.0)]),
    ],
}
BAD_VALUES = ["", "zz", "g" * 64, "0" * 63, "not a value at all", "ff " * 30]


def test_the_stored_names_never_change() -> None:
    # Names are stored in banks and exchanged with partners: renaming one breaks both.
    assert sorted(SIGNAL_TYPES) == ["md5", "pdq", "sha256", "text", "url", "vpdq"]


@pytest.mark.parametrize("name", sorted(SIGNAL_TYPES))
class TestConformance:
    def test_round_trip(self, name: str) -> None:
        kind = get_signal_type(name)
        for signal in SAMPLES[name]:
            again = kind.parse(kind.dump(signal))
            assert again.type == name
            assert again.value == signal.value

    def test_distance_is_zero_to_itself_symmetric_and_positive_otherwise(self, name: str) -> None:
        kind = get_signal_type(name)
        a, b = SAMPLES[name]
        assert kind.distance(a, a) == 0
        assert kind.distance(a, b) == kind.distance(b, a) > 0

    def test_default_threshold_is_within_range(self, name: str) -> None:
        kind = get_signal_type(name)
        assert 0 <= kind.default_threshold <= kind.max_threshold

    def test_bad_values_are_refused_with_the_type_named(self, name: str) -> None:
        kind = get_signal_type(name)
        for bad in BAD_VALUES:
            if name == "url" and bad.startswith("not"):
                continue  # checked in test_url: the message differs
            with pytest.raises(InvalidInput):
                kind.parse(bad)

    def test_parse_normalises_case_and_space(self, name: str) -> None:
        kind = get_signal_type(name)
        signal = SAMPLES[name][0]
        assert kind.parse(f"  {signal.value.upper()}\n").value == signal.value


def test_unknown_signal_types_are_named() -> None:
    with pytest.raises(InvalidInput, match="unknown signal type 'photodna'"):
        parse_signal("photodna", "abc")


@given(st.binary(max_size=64))
def test_digest_parse_accepts_exactly_what_compute_makes(data: bytes) -> None:
    for kind in (SHA256, MD5):
        signal = kind.compute(data)
        assert kind.parse(signal.value) == signal
