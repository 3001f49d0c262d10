#!/bin/sh
# Regenerates the demo assessment's media and the sound-check clip. Run once by hand; the outputs are committed
# (tests never run this). Needs espeak-ng, sox (with Ogg Vorbis support) and python3.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
media="$here/media"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$media"

# speak TEXT OUT.ogg: espeak-ng speech, resampled to 16 kHz mono Ogg Vorbis (quality 1 keeps clips well under 60 KB).
speak() {
    espeak-ng -v en-gb -s 140 -w "$tmp/speech.wav" "$1"
    sox "$tmp/speech.wav" -r 16000 -c 1 -C 1 "$2" pad 0.3 0.3
}

speak "The cat sat on the warm mat by the door." "$media/dictation-1.ogg"
speak "We will meet at the library after school on Friday." "$media/dictation-2.ogg"
speak "This is the sound check. If you can hear this, choose Yes." "$here/../soundcheck.ogg"

# A 240x120 PNG with three blue circles, written with zlib so no imaging library is needed.
python3 - "$media/circles.png" <<'PY'
import struct, sys, zlib

width, height = 240, 120
centres = [(50, 60), (120, 60), (190, 60)]
rows = []
for y in range(height):
    row = bytearray([0])  # filter type 0 for every scanline
    for x in range(width):
        inside = any((x - cx) ** 2 + (y - cy) ** 2 <= 28**2 for cx, cy in centres)
        row += bytes((30, 90, 200) if inside else (255, 255, 255))
    rows.append(bytes(row))

def chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

png = b"\x89PNG\r\n\x1a\n"
png += chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
png += chunk(b"IDAT", zlib.compress(b"".join(rows), 9))
png += chunk(b"IEND", b"")
with open(sys.argv[1], "wb") as out:
    out.write(png)
PY
ls -l "$media" "$here/../soundcheck.ogg"
