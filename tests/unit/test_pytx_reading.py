"""A pytx file's lines read by the short way a plain PDQ line takes give exactly what the full
reading of each line gives (the same entries, the same refusals at the same line numbers), and
a PDQ value already canonical is taken as PDQ's own parser takes it."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from passerelle.core.bank import EntryInput
from passerelle.core.errors import InvalidInput
from passerelle.core.signals.pdq import PDQ
from passerelle.core.taxonomy import Labels, Tier
from passerelle.exchange.bankfile import BadLine, read_pytx, read_pytx_line
from passerelle.services.banks import parse_entry

HEX = "0123456789abcdefABCDEF"
LABELS = Labels(tier=Tier.CRISIS)

pieces = st.one_of(
    st.text(alphabet=HEX, min_size=62, max_size=66),
    st.text(alphabet="0123456789abcdef", min_size=64, max_size=64),
    st.text(alphabet=HEX + " \t#,xz", max_size=70),
)
lines = st.builds(
    lambda kind, gap, value, end: f"{kind}{gap}{value}{end}",
    st.sampled_from(["pdq", "PDQ", "pdq_ocr", "md5", "url_md5", "", "#", " pdq", "vpdq"]),
    st.sampled_from([" ", "  ", "\t", ""]),
    pieces,
    st.sampled_from(["\n", "\r\n", "", " \n", "\n\n"]),
)


def _seen(found: EntryInput | BadLine | None) -> object:
    if isinstance(found, BadLine):
        return ("bad", found.line, str(found))
    return found


@given(st.lists(lines, max_size=30))
def test_a_plain_pdq_line_reads_as_the_full_reading_reads_it(file: list[str]) -> None:
    by_line = [read_pytx_line(n, raw, LABELS) for n, raw in enumerate(file, start=1)]
    expected = [_seen(found) for found in by_line if found is not None]
    assert [_seen(found) for found in read_pytx(file, LABELS)] == expected


@given(
    st.one_of(
        st.text(alphabet=HEX, min_size=64, max_size=64),
        st.text(alphabet=HEX + " \n", min_size=60, max_size=68),
    )
)
def test_a_canonical_pdq_value_parses_as_pdq_parses_it(value: str) -> None:
    entry = EntryInput("pdq", value)
    try:
        expected: object = (PDQ.parse(value), None)
    except InvalidInput as exc:
        expected = str(exc)
    try:
        found: object = parse_entry(entry)
    except InvalidInput as exc:
        found = str(exc)
    assert found == expected


def test_bad_lines_among_plain_ones_keep_their_numbers() -> None:
    good = "pdq " + "ab" * 32 + "\n"
    file = [good, "nope xyz\n", good, "url_md5 " + "0" * 32 + "\n", good]
    found = list(read_pytx(file, Labels()))
    assert [(type(f).__name__, f.line) for f in found] == [
        ("EntryInput", 1),
        ("BadLine", 2),
        ("EntryInput", 3),
        ("BadLine", 4),
        ("EntryInput", 5),
    ]
