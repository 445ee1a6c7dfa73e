"""The image token rule: OpenAI's worked examples, and image sizes read from data URLs against Pillow's."""

from __future__ import annotations

import base64
import io

import pytest
from PIL import Image

from pulumi_aoai_finetuning.image_tokens import (
    UNKNOWN_SIZE_TOKENS,
    ImageTokens,
    high_detail_tokens,
    image_size,
    image_tokens,
)


def _data_url(fmt: str, size: tuple[int, int], **options: object) -> str:
    buffer = io.BytesIO()
    Image.new("RGB", size, (10, 120, 200)).save(buffer, format=fmt, **options)
    return f"data:image/{fmt.lower()};base64," + base64.b64encode(buffer.getvalue()).decode()


def test_the_guides_worked_examples() -> None:
    # "Images and vision", calculating costs: 1024 x 1024 high = 765; 2048 x 4096 high = 1105; low = 85.
    assert high_detail_tokens(1024, 1024) == 765
    assert high_detail_tokens(2048, 4096) == 1105
    assert image_tokens(_data_url("PNG", (4096, 8192)), "low") == ImageTokens(85, estimated=False)


@pytest.mark.parametrize(
    ("size", "tiles"),
    [
        ((1, 1), 1),
        ((512, 512), 1),
        ((513, 512), 2),
        ((768, 768), 4),
        ((4000, 100), 4),  # fits 2048 wide, 51 high: one row of four tiles
        ((100, 4000), 4),
        ((3000, 3000), 4),  # 2048 square, then 768 square
        ((1600, 900), 6),  # short side 768: 1365 x 768 -> 3 x 2
    ],
)
def test_tiles_after_scaling(size: tuple[int, int], tiles: int) -> None:
    assert high_detail_tokens(*size) == 85 + 170 * tiles


def test_unknown_size_is_the_largest_high_detail_cost() -> None:
    assert UNKNOWN_SIZE_TOKENS == 85 + 170 * 8 == high_detail_tokens(768, 2048)
    assert (
        max(high_detail_tokens(w, h) for w in range(64, 5000, 97) for h in range(64, 5000, 89)) <= UNKNOWN_SIZE_TOKENS
    )
    assert image_tokens("https://example.com/x.png", "high") == ImageTokens(UNKNOWN_SIZE_TOKENS, estimated=True)
    assert image_tokens("https://example.com/x.png", None) == ImageTokens(UNKNOWN_SIZE_TOKENS, estimated=True)
    assert image_tokens("https://example.com/x.png", "low") == ImageTokens(85, estimated=False)


def test_auto_detail_is_an_estimate_even_with_a_known_size() -> None:
    url = _data_url("PNG", (1024, 1024))
    assert image_tokens(url, "auto") == ImageTokens(765, estimated=True)
    assert image_tokens(url, "high") == ImageTokens(765, estimated=False)


@pytest.mark.parametrize(
    ("fmt", "options"),
    [
        ("PNG", {}),
        ("GIF", {}),
        ("JPEG", {"quality": 20}),
        ("JPEG", {"quality": 20, "progressive": True}),
        ("WEBP", {"quality": 20}),
        ("WEBP", {"lossless": True}),
    ],
)
@pytest.mark.parametrize("size", [(1, 1), (17, 900), (1024, 768), (3001, 2)])
def test_sizes_read_from_data_urls_match_pillow(fmt: str, options: dict[str, object], size: tuple[int, int]) -> None:
    url = _data_url(fmt, size, **options)
    with Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))) as decoded:
        assert image_size(url) == decoded.size == size


def test_jpeg_size_after_a_large_exif_segment() -> None:
    exif = Image.Exif()
    exif[0x010E] = "x" * 30_000  # ImageDescription: pushes the frame header 30 KB in
    assert image_size(_data_url("JPEG", (640, 360), exif=exif)) == (640, 360)


def test_webp_extended_format() -> None:
    buffer = io.BytesIO()
    Image.new("RGBA", (300, 170), (1, 2, 3, 128)).save(buffer, format="WEBP")  # alpha: the VP8X header
    assert buffer.getvalue()[12:16] == b"VP8X"
    url = "data:image/webp;base64," + base64.b64encode(buffer.getvalue()).decode()
    assert image_size(url) == (300, 170)


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/a.png",
        "data:image/png,not-base64",
        "data:image/png;base64,",
        "data:image/png;base64,@@@@",
        "data:image/bmp;base64," + base64.b64encode(b"BM" + bytes(60)).decode(),
        "data:image/jpeg;base64," + base64.b64encode(b"\xff\xd8\xff\xe0\x00\x10JFIF").decode(),  # cut short
        "data:image/png;base64," + base64.b64encode(b"\x89PNG\r\n\x1a\n").decode(),
    ],
)
def test_unreadable_sizes_are_unknown(url: str) -> None:
    assert image_size(url) is None
    assert image_tokens(url, "high") == ImageTokens(UNKNOWN_SIZE_TOKENS, estimated=True)
