"""The result code's checks: a check symbol per group over GF(32), and (format 2) an order check over GF(2^25)."""

from __future__ import annotations

from collections.abc import Sequence

from sync.crockford import ALPHABET, VALUES

DATA_PER_GROUP = 5
ORDER_SYMBOLS = 10
"""Format 2: two field elements of 25 bits, in groups 2 and 3 (right after the header)."""
ORDER_FIRST_GROUP = 3
"""Format 2: the order check covers every group from the fourth on (the body)."""

# ---- check symbols: a weighted sum over GF(32) -------------------------------------------------
# Weights are distinct non-zero field elements, so every single substitution and every transposition
# inside a group (check symbol included) changes the sum. A plain mod-32 sum cannot do both: its weights
# would have to be odd (to catch substitutions) and differ by an odd number (to catch swaps).


def _gf_tables() -> tuple[tuple[int, ...], tuple[int, ...]]:
    exp, log_ = [0] * 62, [0] * 32
    value = 1
    for power in range(31):
        exp[power] = exp[power + 31] = value
        log_[value] = power
        value <<= 1
        if value & 0x20:
            value ^= 0x25  # x^5 + x^2 + 1, a primitive polynomial
    return tuple(exp), tuple(log_)


_EXP, _LOG = _gf_tables()


def _gf_mul(a: int, b: int) -> int:
    if a == 0 or b == 0:
        return 0
    return _EXP[_LOG[a] + _LOG[b]]


# _WEIGHTED[position][value] = α^(position + 1) · value: one lookup per symbol on the hot path.
_WEIGHTED = tuple(tuple(_gf_mul(_EXP[position + 1], value) for value in range(32)) for position in range(5))
# Format 2 gives the header the tag α^0 alone; every other group cycles through the 31 other values, so a
# group moved into or out of the header's place always fails its check.
_V2_TAGS = (0, *_EXP[1:31])


def group_tag(group_index: int, *, version: int) -> int:
    """The field element that ties a group's check symbol to its place in the code."""
    if version == 1:
        return _EXP[group_index % 31]
    if group_index == 0:
        return 1
    return _V2_TAGS[(group_index - 1) % 31]


def check_value(data: str, *, tag: int) -> int:
    acc = tag
    for position, ch in enumerate(data):
        acc ^= _WEIGHTED[position][VALUES[ch]]
    return acc


def check_symbol(data: str, *, group_index: int, version: int) -> str:
    """The check symbol of one group's data symbols; the group's place is mixed in (see group_tag)."""
    return ALPHABET[check_value(data, tag=group_tag(group_index, version=version))]


def group_passes(group: str, *, group_index: int, version: int) -> bool:
    """True when the group's last symbol is the check symbol of the others at this place."""
    return len(group) > 1 and check_value(group[:-1], tag=group_tag(group_index, version=version)) == VALUES[group[-1]]


# ---- the order check: two syndromes over GF(2^25) ----------------------------------------------
# A check symbol has 5 bits, so it can tell at most 31 places apart: groups 31 apart swapped pass it. The
# order check adds, over the body's groups g (values v_g, 25 bits each, so every distinct group differs):
#   S1 = Σ v_g·γ^g    S2 = Σ v_g·γ^(2g)    (γ = x, a primitive element: γ^g differs for every place)
# Swapping groups g and h changes S1 by D1 = (γ^g + γ^h)(v_g + v_h), never 0, and S2 by D1·(γ^g + γ^h)
# (characteristic 2: squaring is linear), so D2 / D1 = γ^g + γ^h names the pair. Cost: 10 symbols a code.

_FIELD_BITS = 25
_TOP = 1 << _FIELD_BITS
_POLY = _TOP | (1 << 3) | 1  # x^25 + x^3 + 1, a primitive trinomial
FIELD_ORDER = _TOP - 1


def _times_x(value: int) -> int:
    value <<= 1
    return value ^ _POLY if value & _TOP else value


def field_mul(a: int, b: int) -> int:
    result = 0
    while b:
        if b & 1:
            result ^= a
        b >>= 1
        a = _times_x(a)
    return result


def field_pow(base: int, exponent: int) -> int:
    result = 1
    while exponent:
        if exponent & 1:
            result = field_mul(result, base)
        exponent >>= 1
        base = field_mul(base, base)
    return result


def order_sums(values: Sequence[int], *, first_index: int = ORDER_FIRST_GROUP) -> tuple[int, int]:
    """(S1, S2) of the groups `first_index`, `first_index + 1`, ... whose values are `values`."""
    s1 = s2 = 0
    for value in reversed(values):  # Horner: each step multiplies by γ (S1) or γ² (S2)
        s1 <<= 1
        if s1 & _TOP:
            s1 ^= _POLY
        s2 <<= 2
        if s2 & (_TOP << 1):
            s2 ^= _POLY << 1
        if s2 & _TOP:
            s2 ^= _POLY
        s1 ^= value
        s2 ^= value
    return field_mul(s1, field_pow(2, first_index)), field_mul(s2, field_pow(2, 2 * first_index))


def locate_order_swap(
    values: Sequence[int],
    *,
    stored: tuple[int, int],
    computed: tuple[int, int],
    first_index: int = ORDER_FIRST_GROUP,
) -> tuple[int, int] | None:
    """The two groups (0-based) whose swap explains the order check's failure, or None.

    `stored` is (S1, S2) as read from groups 2 and 3 (indexes 1 and 2); a body group swapped with one of those
    is found too.
    """
    d1, d2 = stored[0] ^ computed[0], stored[1] ^ computed[1]
    powers = [0] * len(values)
    power = field_pow(2, first_index)
    for offset in range(len(values)):
        powers[offset] = power
        power = _times_x(power)
    if d1:
        pair_sum = field_mul(d2, field_pow(d1, FIELD_ORDER - 1))  # γ^g + γ^h
        place = {value: offset for offset, value in enumerate(powers)}
        for offset, value in enumerate(powers):
            other = place.get(value ^ pair_sum)
            if other is not None and other > offset and field_mul(pair_sum, values[offset] ^ values[other]) == d1:
                return offset + first_index, other + first_index
    # A body group swapped with one of the order check's own groups: few candidates (same tag), try each.
    for slot, index in enumerate((1, 2)):
        for offset in range(index + 31 - first_index, len(values), 31):
            change = values[offset] ^ stored[slot]
            fixed = field_mul(change, powers[offset]), field_mul(change, field_mul(powers[offset], powers[offset]))
            restored = list(stored)
            restored[slot] = values[offset]
            if (computed[0] ^ fixed[0], computed[1] ^ fixed[1]) == tuple(restored):
                return index, offset + first_index
    return None
