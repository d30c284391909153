"""Properties of the URL canonicaliser over generated input: idempotent, never failing with
anything but `InvalidInput`, and every trivial variant of an address giving one form."""

from __future__ import annotations

from hypothesis import example, given, settings
from hypothesis import strategies as st

from passerelle.core.errors import InvalidInput
from passerelle.core.signals.url import canonicalize_url

LABEL = st.from_regex(r"[a-z0-9](?:[a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True)
# A domain name: its last label is no number (a host ending in one is an IPv4 address).
TOP_LABEL = st.from_regex(r"[a-z][a-z0-9]{1,5}", fullmatch=True)
HOST = st.builds(
    lambda labels, top: ".".join([*labels, top]), st.lists(LABEL, min_size=1, max_size=3), TOP_LABEL
)
SEGMENT = st.text(
    alphabet=st.characters(
        blacklist_characters="/?#%", blacklist_categories=("Cs", "Cc", "Zs", "Zl", "Zp")
    ),
    min_size=1,
    max_size=8,
).filter(lambda s: s not in {".", ".."})
PATH = st.lists(SEGMENT, max_size=5)
PARAM = st.tuples(
    st.from_regex(r"[a-z][a-z0-9]{0,6}", fullmatch=True),
    st.from_regex(r"[a-zA-Z0-9]{0,6}", fullmatch=True),
)
URLISH = st.one_of(
    st.text(max_size=80),
    st.builds(
        lambda scheme, rest: f"{scheme}://{rest}",
        st.sampled_from(["http", "https", "HTTP", "ftp"]),
        st.text(max_size=60),
    ),
)


@settings(max_examples=200, deadline=None)
@given(URLISH)
@example("https://ex<a>mple.test/")
@example("http://[::1/")
@example("https://%e3%80%82/")
@example("https://exemple.test/%ff/../%2e/")
def test_it_raises_only_invalid_input_and_is_idempotent(text: str) -> None:
    try:
        canonical = canonicalize_url(text)
    except InvalidInput:
        return
    assert canonicalize_url(canonical) == canonical


@settings(max_examples=200, deadline=None)
@given(
    scheme=st.sampled_from(["http", "https"]),
    host=HOST,
    path=PATH,
    params=st.lists(PARAM, max_size=4, unique_by=lambda p: p[0]),
    data=st.data(),
)
def test_equivalent_forms_give_one_canonical_form(
    scheme: str,
    host: str,
    path: list[str],
    params: list[tuple[str, str]],
    data: st.DataObject,
) -> None:
    plain = f"{scheme}://{host}/{'/'.join(path)}" + (
        "?" + "&".join(f"{k}={v}" for k, v in params) if params else ""
    )
    expected = canonicalize_url(plain)
    # The same address written otherwise: case, default port, an ideographic full stop,
    # dot segments, parameters in another order, tracking parameters, a fragment.
    dot = data.draw(st.sampled_from([".", "\u3002", "\uff0e", "\uff61"]))
    odd_host = host.upper().replace(".", dot, 1)
    port = data.draw(st.sampled_from(["", ":80" if scheme == "http" else ":443"]))
    detour = data.draw(st.sampled_from(["", "./", "x/../", "./y/../"]))
    odd_path = "/" + detour + "/".join(path)
    shuffled = data.draw(st.permutations(params))
    query = [f"{k}={v}" for k, v in shuffled] + data.draw(
        st.lists(st.sampled_from(["utm_source=x", "fbclid=abc", "gclid=1"]), max_size=2)
    )
    variant = f"{scheme.upper()}://{odd_host}{port}{odd_path}"
    variant += ("?" + "&".join(query) if query else "") + data.draw(
        st.sampled_from(["", "#haut", "#"])
    )
    assert canonicalize_url(variant) == expected
