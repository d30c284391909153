"""Cryptographic digests of the bytes: exact identity only."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from passerelle.core.errors import InvalidInput
from passerelle.core.signals.base import Signal


@dataclass(frozen=True, slots=True)
class DigestType:
    name: str
    hex_length: int
    default_threshold: float = 0
    max_threshold: float = 0

    def compute(self, data: bytes) -> Signal:
        return Signal(self.name, hashlib.new(self.name, data, usedforsecurity=False).hexdigest())

    def parse(self, text: str) -> Signal:
        value = text.strip().lower()
        if not re.fullmatch(rf"[0-9a-f]{{{self.hex_length}}}", value):
            raise InvalidInput(
                "%(name)s must be %(length)s hexadecimal digits, got %(text)r",
                name=self.name,
                length=self.hex_length,
                text=text,
            )
        return Signal(self.name, value)

    def dump(self, signal: Signal) -> str:
        return signal.value

    def distance(self, a: Signal, b: Signal) -> float:
        return 0 if a.value == b.value else 1

    def can_match(self, signal: Signal) -> bool:
        return True


SHA256 = DigestType("sha256", 64)
MD5 = DigestType("md5", 32)
