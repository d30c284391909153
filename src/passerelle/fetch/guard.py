"""Which addresses Passerelle may fetch from: public ones only, for every DNS answer.

Refused: private, loopback, link-local (which holds the cloud metadata address 169.254.169.254),
multicast, unspecified, reserved and shared (CGNAT) ranges, in IPv4 and IPv6, including
IPv4-mapped IPv6. An explicit allow-list (a setting) can open given networks, for tests that
serve pages on 127.0.0.1."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Sequence
from dataclasses import dataclass

from passerelle.core.errors import ExternalServiceError, InvalidInput

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
METADATA_ADDRESSES = frozenset({"169.254.169.254", "fd00:ec2::254", "100.100.100.200"})


def describe_refusal(address: IPAddress) -> str | None:
    """Why an address may not be fetched from, or None if it may."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return describe_refusal(address.ipv4_mapped)
    text = str(address)
    checks = (
        (text in METADATA_ADDRESSES, "a cloud metadata address"),
        (address.is_loopback, "a loopback address"),
        (address.is_link_local, "a link-local address"),
        (address.is_multicast, "a multicast address"),
        (address.is_unspecified, "the unspecified address"),
        (address.is_private, "a private address"),
        (address.is_reserved, "a reserved address"),
        (not address.is_global, "not a public address"),
    )
    return next((reason for failed, reason in checks if failed), None)


def parse_allow_list(entries: Sequence[str]) -> tuple[Network, ...]:
    networks = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError:
            raise InvalidInput(f"fetch allow-list entry {entry!r} is not an IP network") from None
    return tuple(networks)


@dataclass(frozen=True, slots=True)
class AddressGuard:
    allowed: tuple[Network, ...] = ()

    def check(self, address: IPAddress, host: str) -> None:
        if any(address in network for network in self.allowed):
            return
        reason = describe_refusal(address)
        if reason:
            raise InvalidInput(f"refused to fetch {host}: it resolves to {address}, {reason}")

    def resolve(self, host: str, port: int) -> list[IPAddress]:
        """Every address of `host`, each checked; refuse if any one is refused."""
        try:
            literal = ipaddress.ip_address(host.strip("[]"))
        except ValueError:
            literal = None
        if literal is not None:
            self.check(literal, host)
            return [literal]
        try:
            answers = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as exc:
            raise ExternalServiceError(f"cannot resolve {host}: {exc}") from None
        addresses: list[IPAddress] = []
        for _family, _type, _proto, _name, sockaddr in answers:
            address = ipaddress.ip_address(str(sockaddr[0]).split("%")[0])
            self.check(address, host)
            if address not in addresses:
                addresses.append(address)
        if not addresses:
            raise ExternalServiceError(f"cannot resolve {host}: no address")
        return addresses
