"""Bit strings for result code format 3: fixed-width fields, Exp-Golomb and Rice codes, most significant bit first."""

from __future__ import annotations

from sync.resultcode_pack import Malformed


def width_for(count: int) -> int:
    """Bits that tell `count` values apart (0 for one value or none)."""
    return max(count - 1, 0).bit_length()


class BitWriter:
    def __init__(self) -> None:
        self.value = 0
        self.length = 0

    def put(self, value: int, width: int) -> None:
        if value < 0 or value >> width:
            raise ValueError(f"{value} does not fit in {width} bits")
        self.value = (self.value << width) | value
        self.length += width

    def flag(self, value: bool) -> None:
        self.put(int(value), 1)

    def gamma(self, value: int) -> None:
        """Exp-Golomb order 0 of value >= 0: n zeros, then value + 1 in n + 1 bits."""
        width = (value + 1).bit_length()
        self.put(value + 1, 2 * width - 1)

    def rice(self, value: int, k: int) -> None:
        """value >> k in unary (ones, then a zero), then the low k bits."""
        quotient = value >> k
        self.put((1 << (quotient + 1)) - 2, quotient + 1)
        self.put(value & ((1 << k) - 1), k)

    def raw(self, data: bytes) -> None:
        self.put(int.from_bytes(data, "big"), 8 * len(data))


def rice_length(value: int, k: int) -> int:
    return (value >> k) + 1 + k


def zigzag(value: int) -> int:
    return value * 2 if value >= 0 else -value * 2 - 1


def unzigzag(value: int) -> int:
    return value // 2 if value % 2 == 0 else -(value + 1) // 2


class BitReader:
    """Reads `length` bits of `value`, most significant first; each read costs its own width, not the whole body's
    (a code may hold 300 KB of text)."""

    def __init__(self, value: int, length: int) -> None:
        self.data = (value << (-length % 8)).to_bytes(-(-length // 8), "big")
        self.length = length
        self.pos = 0

    def remaining(self) -> int:
        return self.length - self.pos

    def take(self, width: int) -> int:
        if width > self.remaining():
            raise Malformed
        start, end = self.pos, self.pos + width
        self.pos = end
        if not width:
            return 0
        chunk = int.from_bytes(self.data[start // 8 : -(-end // 8)], "big")
        return (chunk >> (-end % 8)) & ((1 << width) - 1)

    def flag(self) -> bool:
        return bool(self.take(1))

    def gamma(self) -> int:
        zeros = 0
        while not self.take(1):
            zeros += 1
        return ((1 << zeros) | self.take(zeros)) - 1

    def rice(self, k: int) -> int:
        quotient = 0
        while self.take(1):
            quotient += 1
        return (quotient << k) | self.take(k)

    def raw(self, count: int) -> bytes:
        return self.take(8 * count).to_bytes(count, "big")

    def rest_is_zero(self) -> bool:
        return self.take(self.remaining()) == 0
