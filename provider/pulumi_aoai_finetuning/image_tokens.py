"""How many tokens an image in a chat example costs, by its detail level and size.

The rule is OpenAI's for the vision models that can be fine-tuned (gpt-4o, gpt-4.1; "Images and vision",
section "Calculating costs", platform.openai.com/docs/guides/images-vision): ``detail: low`` costs 85 tokens
whatever the size; ``high`` first scales the image to fit in 2048 x 2048, then so that its shortest side is
768 px, and costs 85 plus 170 per 512 px tile of the result. The guide's worked examples are the tests' anchors:
1024 x 1024 high = 765, 2048 x 4096 high = 1105, 4096 x 8192 low = 85.

Two cases cannot be exact, and are flagged as estimated: the size of an image given by http(s) URL is not
known offline (nothing is downloaded), and ``detail: auto`` (the default) lets the service pick low or high.
Both are counted as the high-detail cost, the upper bound, so a budget check errs on the safe side: for an
unknown size that is the most tiles a scaled image can span (768 x 2048: 2 x 4 tiles, 1445 tokens).

The size of a ``data:`` URL image is read from its first bytes (PNG, GIF, JPEG, WebP), without decoding it.
"""

from __future__ import annotations

import base64
import binascii
import math
from dataclasses import dataclass

__all__ = ["ImageTokens", "image_size", "image_tokens"]

LOW_TOKENS = 85
TILE_TOKENS = 170
TILE_PX = 512
_FIT_PX = 2048
_SHORT_PX = 768
UNKNOWN_SIZE_TOKENS = LOW_TOKENS + TILE_TOKENS * math.ceil(_SHORT_PX / TILE_PX) * math.ceil(_FIT_PX / TILE_PX)
"""The high-detail cost of the largest possible scaled image: the count used when the size is unknown."""

_HEADER_B64_CHARS = 64 << 10  # enough base64 for a JPEG's SOF marker after typical EXIF/ICC segments


@dataclass(frozen=True)
class ImageTokens:
    """The tokens an image costs, and whether that is an estimate (size unknown, or ``detail: auto``)."""

    tokens: int
    estimated: bool


def high_detail_tokens(width: int, height: int) -> int:
    """The documented ``detail: high`` cost of a ``width`` x ``height`` image."""
    w, h = float(width), float(height)
    if max(w, h) > _FIT_PX:
        scale = _FIT_PX / max(w, h)
        w, h = w * scale, h * scale
    if min(w, h) > _SHORT_PX:
        scale = _SHORT_PX / min(w, h)
        w, h = w * scale, h * scale
    tiles = math.ceil(round(w, 6) / TILE_PX) * math.ceil(round(h, 6) / TILE_PX)
    return LOW_TOKENS + TILE_TOKENS * max(1, tiles)


def image_tokens(url: str, detail: str | None) -> ImageTokens:
    """The tokens of one ``image_url`` part: exact for ``low``, and for ``high`` when the size can be read."""
    if detail == "low":
        return ImageTokens(LOW_TOKENS, estimated=False)
    size = image_size(url)
    tokens = UNKNOWN_SIZE_TOKENS if size is None else high_detail_tokens(*size)
    return ImageTokens(tokens, estimated=size is None or detail != "high")


def image_size(url: str) -> tuple[int, int] | None:
    """The (width, height) of a base64 ``data:image/...`` URL's image, or None when it cannot be read offline."""
    if not url.startswith("data:"):
        return None
    comma = url.find(",", 0, 256)
    if comma < 0 or not url[:comma].endswith(";base64"):
        return None
    chunk = url[comma + 1 : comma + 1 + _HEADER_B64_CHARS]
    chunk = chunk[: len(chunk) - len(chunk) % 4]
    try:
        head = base64.b64decode(chunk, validate=False)
    except (binascii.Error, ValueError):
        return None
    return _sniff(head)


def _sniff(b: bytes) -> tuple[int, int] | None:
    if b[:8] == b"\x89PNG\r\n\x1a\n" and len(b) >= 24 and b[12:16] == b"IHDR":
        return int.from_bytes(b[16:20], "big"), int.from_bytes(b[20:24], "big")
    if b[:6] in (b"GIF87a", b"GIF89a") and len(b) >= 10:
        return int.from_bytes(b[6:8], "little"), int.from_bytes(b[8:10], "little")
    if b[:2] == b"\xff\xd8":
        return _jpeg(b)
    if b[:4] == b"RIFF" and b[8:12] == b"WEBP":
        return _webp(b)
    return None


def _jpeg(b: bytes) -> tuple[int, int] | None:
    i = 2
    while i + 9 < len(b):
        if b[i] != 0xFF:
            return None
        marker = b[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:  # markers without a length
            i += 2
            continue
        length = int.from_bytes(b[i + 2 : i + 4], "big")
        # SOF0..SOF15 carry the frame size, except DHT (C4), JPG (C8) and DAC (CC).
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            height = int.from_bytes(b[i + 5 : i + 7], "big")
            width = int.from_bytes(b[i + 7 : i + 9], "big")
            return (width, height) if width and height else None
        i += 2 + length
    return None


def _webp(b: bytes) -> tuple[int, int] | None:
    kind = b[12:16]
    if kind == b"VP8X" and len(b) >= 30:
        return 1 + int.from_bytes(b[24:27], "little"), 1 + int.from_bytes(b[27:30], "little")
    if kind == b"VP8 " and len(b) >= 30 and b[23:26] == b"\x9d\x01\x2a":
        return int.from_bytes(b[26:28], "little") & 0x3FFF, int.from_bytes(b[28:30], "little") & 0x3FFF
    if kind == b"VP8L" and len(b) >= 25 and b[20] == 0x2F:
        bits = int.from_bytes(b[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    return None
