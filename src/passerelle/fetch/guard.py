"""Which addresses Passerelle may fetch from: public ones only, for every DNS answer.

Refused (see `core.address`): private, loopback, link-local (which holds the cloud metadata
address 169.254.169.254), multicast, unspecified, reserved and shared (CGNAT) ranges, in IPv4
and IPv6, and IPv6 forms that carry such an IPv4 address (IPv4-mapped, 6to4, NAT64, Teredo).
An explicit allow-list (a setting) can open given networks, for tests that serve pages on
127.0.0.1.

Name resolution runs in a worker thread bounded by the time left to the caller, so a resolver
that never answers cannot hold a fetch past its deadline."""

from __future__ import annotations

import ipaddress
import socket
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from passerelle.core.address import (
    METADATA_ADDRESSES,
    IPAddress,
    Network,
    describe_refusal,
    embedded_ipv4,
)
from passerelle.core.errors import ExternalServiceError, InvalidInput

__all__ = [
    "METADATA_ADDRESSES",
    "AddressGuard",
    "describe_refusal",
    "embedded_ipv4",
    "parse_allow_list",
    "parse_allow_setting",
]

DEFAULT_RESOLVE_SECONDS = 10.0
# The answers of getaddrinfo for a host and port: (family, type, proto, name, sockaddr).
Resolver = Callable[[str, int], Sequence[tuple[object, object, object, object, tuple[object, ...]]]]


def parse_allow_list(entries: Sequence[str]) -> tuple[Network, ...]:
    networks = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError:
            raise InvalidInput(
                "allow-list entry %(entry)s is not an IP network", entry=repr(entry)
            ) from None
    return tuple(networks)


def parse_allow_setting(text: str) -> tuple[Network, ...]:
    """A comma-separated allow-list as written in a setting."""
    return parse_allow_list([n for n in text.split(",") if n.strip()])


def _system_resolver(
    host: str, port: int
) -> Sequence[tuple[object, object, object, object, tuple[object, ...]]]:
    return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)


@dataclass(frozen=True, slots=True)
class AddressGuard:
    allowed: tuple[Network, ...] = ()
    resolver: Resolver = field(default=_system_resolver, compare=False)

    def check(self, address: IPAddress, host: str) -> None:
        if any(address in network for network in self.allowed):
            return
        reason = describe_refusal(address)
        if reason:
            raise InvalidInput(
                "refused to fetch %(host)s: it resolves to %(address)s, %(reason)s",
                host=host,
                address=address,
                reason=reason,
            )

    def resolve(
        self, host: str, port: int, *, timeout: float = DEFAULT_RESOLVE_SECONDS
    ) -> list[IPAddress]:
        """Every address of `host`, each checked; refuse if any one is refused. Gives up
        (ExternalServiceError) after `timeout` seconds."""
        try:
            literal = ipaddress.ip_address(host.strip("[]"))
        except ValueError:
            literal = None
        if literal is not None:
            self.check(literal, host)
            return [literal]
        addresses: list[IPAddress] = []
        for _family, _type, _proto, _name, sockaddr in self._answers(host, port, timeout):
            address = ipaddress.ip_address(str(sockaddr[0]).split("%")[0])
            self.check(address, host)
            if address not in addresses:
                addresses.append(address)
        if not addresses:
            raise ExternalServiceError("cannot resolve %(host)s: no address", host=host)
        return addresses

    def _answers(
        self, host: str, port: int, timeout: float
    ) -> Sequence[tuple[object, object, object, object, tuple[object, ...]]]:
        if timeout <= 0:
            raise ExternalServiceError("timed out resolving %(host)s", host=host)
        outcome: list[object] = []

        def work() -> None:
            try:
                outcome.append(self.resolver(host, port))
            except (OSError, UnicodeError) as exc:
                outcome.append(exc)

        # A daemon thread: a resolver that hangs is abandoned, never waited for at exit.
        worker = threading.Thread(target=work, name=f"resolve {host}", daemon=True)
        worker.start()
        worker.join(timeout)
        if not outcome:
            raise ExternalServiceError("timed out resolving %(host)s", host=host)
        answer = outcome[0]
        if isinstance(answer, BaseException):
            raise ExternalServiceError(
                "cannot resolve %(host)s: %(error)s", host=host, error=answer
            )
        return answer  # type: ignore[return-value]
