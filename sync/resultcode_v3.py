"""Result code format 3: answers packed by what the delivery form allows, sealed with a 64-bit SIV tag."""

from __future__ import annotations

import hashlib
import hmac
import uuid
import zlib
from datetime import UTC, datetime, timedelta

from sync.protocol import AnswerRecord, AnswerValue, DeliveryAssessment, DeliveryItem, ResultEnvelope
from sync.resultcode_bits import BitReader, BitWriter, rice_length, unzigzag, width_for, zigzag
from sync.resultcode_keys import master_key
from sync.resultcode_pack import MAX_PLAINTEXT_BYTES, Malformed, Reader, Writer

PREFIX_BITS = 64
"""The attempt id's first 64 bits, in the clear: the server finds the attempt (and its key) by them."""
TAG_BITS = 64
CLEAR_BITS = PREFIX_BITS + TAG_BITS
TEXT_TYPES = frozenset({"short_text", "extended_text", "dictation"})
_KDF_INFO = b"invigil/result-code/v3"
_MAC_MAGIC = b"invigil-result-code"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_RECENT = datetime(2024, 1, 1, tzinfo=UTC)
_SECOND = timedelta(seconds=1)
_RECENT_BITS = 32
"""finished_at from 2024 until 2160 takes 32 bits; any other time 40 (zigzag seconds since 1970)."""
_FAR_BITS = 40
_RICE_K_BITS = 5
# Common English words for the text dictionary (besides the delivery form's own words): deflate finds them in a
# short answer that has nothing earlier to refer to.
_COMMON_WORDS = (
    "the of and to in is was that for it with as his on be at by had are but from or have an they which one you "
    "were her all she there would their we him been has when who will more no if out so said what up its about "
    "into than them can only other new some could time these two may then do first any my now such like our over "
    "man me even most made after also did many before must through back years where much your way well down "
    "should because each just those people how too little state good very make world still own see men work long "
    "get here between both life being under never day same another know while last might us great old year off "
    "come since against go came right used take three school house water morning after friday library door "
    "park green children cat sat warm mat meet "
)


class NotRepresentable(Exception):
    """The envelope holds something format 3 cannot say (an id not in the delivery form...): use format 2."""


def _seconds(moment: datetime) -> int:
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return (aware - _EPOCH) // _SECOND


def _key_bits(key: str) -> int:
    """The 122 random bits of a version 4 UUID in its canonical form."""
    try:
        parsed = uuid.UUID(key)
    except ValueError:
        raise NotRepresentable from None
    if str(parsed) != key or parsed.version != 4:
        raise NotRepresentable
    value = parsed.int
    return (value >> 80) << 74 | ((value >> 64) & 0xFFF) << 62 | (value & ((1 << 62) - 1))


def _key_text(bits: int) -> str:
    value = (bits >> 74) << 80 | 4 << 76 | ((bits >> 62) & 0xFFF) << 64 | 2 << 62 | (bits & ((1 << 62) - 1))
    return str(uuid.UUID(int=value))


def attempt_prefix(attempt_id: str) -> int:
    try:
        parsed = uuid.UUID(attempt_id)
    except ValueError:
        raise NotRepresentable from None
    if str(parsed) != attempt_id:
        raise NotRepresentable
    return parsed.int >> (128 - PREFIX_BITS)


def prefix_text(prefix: int) -> str:
    """The attempt id's first 64 bits as its text begins: 'xxxxxxxx-xxxx-xxxx'."""
    digits = f"{prefix:016x}"
    return f"{digits[:8]}-{digits[8:12]}-{digits[12:]}"


def _dictionary(delivery: DeliveryAssessment) -> bytes:
    words = [delivery.title] + [
        text
        for section in delivery.sections
        for item in section.items
        for text in (item.prompt, *(option.text for option in item.options))
    ]
    return (_COMMON_WORDS + " ".join(words)).encode("utf-8", "surrogatepass")[-32768:]


def _items(delivery: DeliveryAssessment, chosen: list[int]) -> list[DeliveryItem]:
    return [item for index in chosen for item in delivery.sections[index].items]


def _put_value(writer: BitWriter, item: DeliveryItem, value: AnswerValue, texts: Writer) -> None:
    option_ids = [option.id for option in item.options]
    if item.type == "single_choice":
        if not isinstance(value, str) or value not in option_ids:
            raise NotRepresentable
        writer.put(option_ids.index(value), width_for(len(option_ids)))
    elif item.type == "multiple_choice":
        if (
            not isinstance(value, list)
            or value != [o for o in option_ids if o in value]
            or len(set(value)) < len(value)
        ):
            raise NotRepresentable  # only option ids, each once, in the form's order
        for option in option_ids:
            writer.flag(option in value)
    elif item.type in TEXT_TYPES and isinstance(value, str):
        texts.text(value)
    else:
        raise NotRepresentable


def _take_value(reader: BitReader, item: DeliveryItem, texts: Reader | None) -> AnswerValue:
    option_ids = [option.id for option in item.options]
    if item.type == "single_choice":
        index = reader.take(width_for(len(option_ids)))
        if index >= len(option_ids):
            raise Malformed
        return option_ids[index]
    if item.type == "multiple_choice":
        return [option for option in option_ids if reader.flag()]
    if texts is None:
        raise Malformed
    return texts.text()


def pack(envelope: ResultEnvelope, delivery: DeliveryAssessment) -> BitWriter:
    """The envelope as bits, given the delivery form; raises NotRepresentable for anything format 3 cannot say."""
    writer = BitWriter()
    writer.flag(envelope.final)
    writer.put(_key_bits(envelope.idempotency_key), 122)
    section_index = {section.id: index for index, section in enumerate(delivery.sections)}
    chosen = [section_index.get(section_id, -1) for section_id in envelope.section_ids]
    if chosen != sorted(set(chosen)) or -1 in chosen:
        raise NotRepresentable  # sections as a set in the form's order
    for index in range(len(delivery.sections)):
        writer.flag(index in chosen)
    items = _items(delivery, chosen)
    position = {item.id: index for index, item in enumerate(items)}
    if len(position) < len(items):
        raise NotRepresentable
    places = [position.get(answer.item_id, -1) for answer in envelope.answers]
    if -1 in places or len(set(places)) < len(places):
        raise NotRepresentable
    answered = sorted(places)
    everything = len(answered) == len(items)
    writer.flag(everything)
    if not everything:
        given = set(places)
        for index in range(len(items)):
            writer.flag(index in given)
    by_place = {place: answer for place, answer in zip(places, envelope.answers, strict=True)}
    moments = {place: _seconds(by_place[place].answered_at) for place in answered}
    in_time_order = places == sorted(places, key=lambda place: (moments[place], place))
    writer.flag(in_time_order)
    if not in_time_order:
        remaining = list(answered)
        for place in places:
            writer.put(remaining.index(place), width_for(len(remaining)))
            remaining.remove(place)
    finished = _seconds(envelope.finished_at)
    recent = finished - _seconds(_RECENT)
    writer.flag(0 <= recent < 1 << _RECENT_BITS)
    if 0 <= recent < 1 << _RECENT_BITS:
        writer.put(recent, _RECENT_BITS)
    elif zigzag(finished) < 1 << _FAR_BITS:
        writer.put(zigzag(finished), _FAR_BITS)
    else:
        raise NotRepresentable
    # Each time as the step back from the one after it (in the form's order; the last answer's from finished_at,
    # Exp-Golomb): students mostly answer in order, so the steps are small and not negative. Rice code, with k
    # chosen per code; zigzag only when some step is negative (a clock set back, answers out of order).
    steps, reference = [], finished
    for place in reversed(answered):
        steps.append(reference - moments[place])
        reference = moments[place]
    if steps:
        writer.gamma(zigzag(steps[0]))
    forward = all(step >= 0 for step in steps[1:])
    writer.flag(forward)
    rest = steps[1:] if forward else [zigzag(step) for step in steps[1:]]
    k = min(range(1 << _RICE_K_BITS), key=lambda k: sum(rice_length(step, k) for step in rest))
    writer.put(k, _RICE_K_BITS)
    for step in rest:
        writer.rice(step, k)
    texts = Writer()
    for place in answered:
        _put_value(writer, items[place], by_place[place].value, texts)
    if texts.out:
        _put_texts(writer, bytes(texts.out), delivery)
    return writer


def _put_texts(writer: BitWriter, plain: bytes, delivery: DeliveryAssessment) -> None:
    squeezer = zlib.compressobj(9, zlib.DEFLATED, -15, 9, zdict=_dictionary(delivery))
    deflated = squeezer.compress(plain) + squeezer.flush()
    use_deflate = len(deflated) < len(plain)
    chosen = deflated if use_deflate else plain
    writer.flag(use_deflate)
    writer.gamma(len(chosen))
    writer.raw(chosen)


def _take_texts(reader: BitReader, delivery: DeliveryAssessment) -> Reader:
    deflated = reader.flag()
    size = reader.gamma()
    if 8 * size > reader.remaining():
        raise Malformed
    data = reader.raw(size)
    if deflated:
        inflater = zlib.decompressobj(-15, zdict=_dictionary(delivery))
        data = inflater.decompress(data, MAX_PLAINTEXT_BYTES)
        if inflater.unconsumed_tail or not inflater.eof:
            raise Malformed
    return Reader(data)


def unpack(reader: BitReader, *, attempt_id: str, delivery: DeliveryAssessment) -> ResultEnvelope:
    """The envelope `pack` was given (times in UTC, whole seconds); raises Malformed."""
    final = reader.flag()
    key = _key_text(reader.take(122))
    chosen = [index for index in range(len(delivery.sections)) if reader.flag()]
    items = _items(delivery, chosen)
    answered = list(range(len(items))) if reader.flag() else [i for i in range(len(items)) if reader.flag()]
    in_time_order = reader.flag()
    order: list[int] = []
    if not in_time_order:
        remaining = list(answered)
        for _ in answered:
            index = reader.take(width_for(len(remaining)))
            if index >= len(remaining):
                raise Malformed
            order.append(remaining.pop(index))
    recent = reader.flag()
    finished = reader.take(_RECENT_BITS) + _seconds(_RECENT) if recent else unzigzag(reader.take(_FAR_BITS))
    steps = [unzigzag(reader.gamma())] if answered else []
    forward = reader.flag()
    k = reader.take(_RICE_K_BITS)
    for _ in answered[1:]:
        step = reader.rice(k)
        steps.append(step if forward else unzigzag(step))
    moments: dict[int, int] = {}
    reference = finished
    for place, step in zip(reversed(answered), steps, strict=True):
        reference -= step
        moments[place] = reference
    has_text = any(items[place].type in TEXT_TYPES for place in answered)
    values: dict[int, AnswerValue] = {}
    text_places = [place for place in answered if items[place].type in TEXT_TYPES]
    for place in answered:
        if place not in text_places:
            values[place] = _take_value(reader, items[place], None)
    if has_text:
        texts = _take_texts(reader, delivery)
        for place in text_places:
            values[place] = _take_value(reader, items[place], texts)
        if texts.pos != len(texts.data):
            raise Malformed
    if in_time_order:
        order = sorted(answered, key=lambda place: (moments[place], place))
    return ResultEnvelope(
        idempotency_key=key,
        attempt_id=attempt_id,
        section_ids=[delivery.sections[index].id for index in chosen],
        answers=[
            AnswerRecord(item_id=items[place].id, value=values[place], answered_at=_EPOCH + moments[place] * _SECOND)
            for place in order
        ],
        finished_at=_EPOCH + finished * _SECOND,
        final=final,
    )


# ---- sealing: SIV (HMAC-SHA256 tag truncated to 64 bits, AES-256-CTR from the tag) -----------------------


def _keys(result_secret: str) -> tuple[bytes, bytes]:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    both = HKDF(algorithm=hashes.SHA256(), length=64, salt=None, info=_KDF_INFO).derive(master_key(result_secret))
    return both[:32], both[32:]


def _tag(mac_key: bytes, *, attempt_id: str, delivery: DeliveryAssessment, bits: int, length: int) -> int:
    bound = "\x00".join((attempt_id, delivery.id, delivery.version, delivery.content_hash)).encode(
        "utf-8", "surrogatepass"
    )
    padded = bits << (-length % 8)
    message = b"".join(
        (_MAC_MAGIC, bytes([3]), len(bound).to_bytes(4, "big"), bound, length.to_bytes(4, "big"))
    ) + padded.to_bytes(-(-length // 8), "big")
    return int.from_bytes(hmac.new(mac_key, message, hashlib.sha256).digest()[: TAG_BITS // 8], "big")


def _keystream(enc_key: bytes, tag: int, length: int) -> int:
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    size = -(-length // 8)
    encryptor = Cipher(algorithms.AES(enc_key), modes.CTR(tag.to_bytes(8, "big") + bytes(8))).encryptor()
    stream = encryptor.update(bytes(size)) + encryptor.finalize()
    return int.from_bytes(stream, "big") >> (8 * size - length)


def seal(writer: BitWriter, *, attempt_id: str, delivery: DeliveryAssessment, result_secret: str) -> tuple[int, int]:
    """(bits, length) of the body: attempt prefix, tag, ciphertext, filling whole symbols (5 bits each)."""
    mac_key, enc_key = _keys(result_secret)
    length = writer.length + (-(CLEAR_BITS + writer.length) % 5)
    plain = writer.value << (length - writer.length)
    tag = _tag(mac_key, attempt_id=attempt_id, delivery=delivery, bits=plain, length=length)
    sealed = plain ^ _keystream(enc_key, tag, length)
    body = (attempt_prefix(attempt_id) << TAG_BITS | tag) << length | sealed
    return body, CLEAR_BITS + length


def open_body(
    body: int, length: int, *, attempt_id: str, delivery: DeliveryAssessment, result_secret: str
) -> BitReader | None:
    """The plaintext as a reader, or None when the tag does not match (not authentic)."""
    mac_key, enc_key = _keys(result_secret)
    inner = length - CLEAR_BITS
    tag = (body >> inner) & ((1 << TAG_BITS) - 1)
    plain = (body & ((1 << inner) - 1)) ^ _keystream(enc_key, tag, inner)
    expected = _tag(mac_key, attempt_id=attempt_id, delivery=delivery, bits=plain, length=inner)
    if not hmac.compare_digest(expected.to_bytes(8, "big"), tag.to_bytes(8, "big")):
        return None
    return BitReader(plain, inner)
