"""Fetch the images a template's data refers to, before rendering (rendering does no I/O)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx

from docg_core.builtin.http import check_url
from docg_core.context import ExecutionContext
from docg_core.errors import StepError

from .files import load_file

MAX_IMAGE_BYTES = 10 * 1024 * 1024


def image_references(value: Any) -> Iterator[str]:
    """Every image reference (storage key, path or URL) in the data, depth first."""
    from ..templating import as_image

    try:
        image = as_image(value)
    except ValueError:
        return  # a malformed image value: rendering reports it with its place in the template
    if image is not None:
        if isinstance(image.data, str):
            yield image.data
        return
    if isinstance(value, dict):
        for item in value.values():
            yield from image_references(item)
    elif isinstance(value, list):
        for item in value:
            yield from image_references(item)


async def fetch_images(ctx: ExecutionContext, data: Any) -> dict[str, bytes]:
    """The bytes of every image the data refers to, by reference."""
    found: dict[str, bytes] = {}
    for ref in image_references(data):
        if ref not in found:
            found[ref] = await _fetch(ctx, ref)
    return found


async def _fetch(ctx: ExecutionContext, ref: str) -> bytes:
    if not ref.startswith(("http://", "https://")):
        return (await load_file(ctx, ref, "data (image)")).data
    url = httpx.URL(ref)
    await check_url(url)  # never fetch private or loopback addresses on a user's behalf
    async with ctx.http.stream("GET", url, follow_redirects=False) as response:
        if response.status_code != 200:
            raise StepError(f"image {ref!r}: HTTP {response.status_code}", code="image_fetch")
        chunks, size = [], 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > MAX_IMAGE_BYTES:
                raise StepError(f"image {ref!r} is larger than {MAX_IMAGE_BYTES // 2**20} MB")
            chunks.append(chunk)
    return b"".join(chunks)
