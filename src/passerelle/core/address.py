"""Which network addresses are public: the classification the fetcher's guard applies to every
DNS answer, and the check made without any look-up on an address as typed (a public report,
a partner's address).

An IPv6 address that carries an IPv4 one (IPv4-mapped, 6to4, NAT64, Teredo) is judged by the
IPv4 it carries: `2002:7f00:1::` reaches 127.0.0.1 through a 6to4 relay. A refusal is a message
(a noun phrase: "a loopback address"), put into the sentence that shows it and said in the
reader's language."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Sequence

from passerelle.core.message import Message

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
METADATA_ADDRESSES = frozenset({"169.254.169.254", "fd00:ec2::254", "100.100.100.200"})
NAT64 = ipaddress.ip_network("64:ff9b::/96")
# Names that never lead to the public web (RFC 6761, RFC 6762, RFC 8375, common internal ones).
LOCAL_NAMES = ("localhost", "local", "internal", "lan", "intranet", "home.arpa", "localdomain")
LOCAL_NAME = Message("a local name")
LOCAL_NAME_WITHOUT_DOMAIN = Message("a local name (no domain)")


def embedded_ipv4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address carries, in the forms that route to them."""
    found: list[ipaddress.IPv4Address] = []
    if address.ipv4_mapped is not None:
        found.append(address.ipv4_mapped)
    if address.sixtofour is not None:
        found.append(address.sixtofour)
    if address.teredo is not None:
        found.extend(address.teredo)  # (server, client)
    if address in NAT64:
        found.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return found


def describe_refusal(address: IPAddress) -> Message | None:
    """Why an address may not be reached, or None if it may."""
    if isinstance(address, ipaddress.IPv6Address):
        for inner in embedded_ipv4(address):
            reason = describe_refusal(inner)
            if reason is None:
                continue
            if inner == address.ipv4_mapped:
                return reason
            embeds: dict[str, str | Message] = {"reason": reason, "address": str(inner)}
            return Message("%(reason)s (embeds %(address)s)", embeds)
    text = str(address)
    checks = (
        (text in METADATA_ADDRESSES, Message("a cloud metadata address")),
        (address.is_loopback, Message("a loopback address")),
        (address.is_link_local, Message("a link-local address")),
        (address.is_multicast, Message("a multicast address")),
        (address.is_unspecified, Message("the unspecified address")),
        (address.is_private, Message("a private address")),
        (address.is_reserved, Message("a reserved address")),
        (not address.is_global, Message("not a public address")),
    )
    return next((reason for failed, reason in checks if failed), None)


def parse_literal(host: str) -> IPAddress | None:
    """The address a host written as an IP literal stands for, in any form a resolver takes
    (`[::1]`, `127.1`, `0x7f.0.0.1`, `2130706433`); None for a name."""
    bare = host.strip().strip("[]").split("%")[0]
    try:
        return ipaddress.ip_address(bare)
    except ValueError:
        pass
    if bare and all(part.isalnum() for part in bare.split(".")) and bare[-1:].isalnum():
        try:  # the legacy numeric forms inet_aton reads as IPv4
            return ipaddress.IPv4Address(socket.inet_aton(bare))
        except OSError:
            return None
    return None


def describe_host_refusal(host: str, allowed: Sequence[Network] = ()) -> Message | None:
    """Why a host as typed is not on the public web, without resolving it: an IP literal that
    is not public (unless in `allowed`), or a local name such as `localhost`. None if it may
    be public (a name is only judged when it is looked up)."""
    literal = parse_literal(host)
    if literal is not None:
        if any(literal in network for network in allowed):
            return None
        return describe_refusal(literal)
    name = host.strip().rstrip(".").lower()
    if any(name == local or name.endswith("." + local) for local in LOCAL_NAMES):
        return LOCAL_NAME
    if "." not in name and name:
        return LOCAL_NAME_WITHOUT_DOMAIN
    return None
