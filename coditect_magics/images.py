"""Notebook images for a model. A matplotlib figure (or one of its axes or artists), a PIL image, an
`IPython.display.Image`, image bytes or an image file become an `ImagePart`: figures and PIL images as PNG (scaled
down to MAX_SIDE pixels), files and bytes in their own format, sniffed from their first bytes. Also: which image
`--image _` means. Which models accept images is their provider spec's to say (`registry.require_images`, which the
executor applies to every request holding an image). matplotlib and PIL are never imported here unless the
value is already one of theirs (pillow is needed only to convert formats the providers do not take)."""

from __future__ import annotations

import base64
import io
import os
import sys
from pathlib import Path
from typing import Any, Iterator

from coditect_magics.context import lookup
from coditect_magics.providers import errors
from coditect_magics.providers.types import ImagePart
from coditect_magics.render import is_a

MAX_BYTES = 5 * 1024 * 1024  # Anthropic's limit per image, the strictest of the providers (OpenAI, Gemini: 20 MB)
MAX_SIDE = 1568  # Anthropic's advice for the longest edge; providers shrink bigger images on their side anyway

# the formats every vision API takes, by their first bytes
_SIGNATURES = ((b"\x89PNG\r\n\x1a\n", "image/png"), (b"\xff\xd8\xff", "image/jpeg"), (b"GIF87a", "image/gif"),
               (b"GIF89a", "image/gif"))
_PNG_MODES = {"1", "L", "LA", "I;16", "P", "RGB", "RGBA"}  # what pillow writes as PNG

SHAPES = "a matplotlib figure, a PIL image, an IPython.display.Image, image bytes or an image file path"


def image_part(value: Any, *, max_bytes: int = MAX_BYTES, max_side: int = MAX_SIDE) -> ImagePart:
    """`value` as an image a model can read; a BadRequest saying what to pass instead when it is none, or what
    to do when it is too big."""
    figure = _figure_of(value)
    if figure is not None:
        return _checked(ImagePart("image/png", _figure_png(figure, max_side)), max_bytes, "the figure")
    if is_a(value, "PIL", "Image"):
        return _pil(value, max_bytes, max_side)
    if is_a(value, "IPython", "Image"):
        if not value.data:
            raise errors.BadRequest("this IPython Image holds no bytes (a URL not embedded): make it with "
                                    "Image(filename=...) or embed=True, or pass the file path")
        return _sniffed(value.data, max_bytes, max_side, "the IPython Image")
    if isinstance(value, (bytes, bytearray, memoryview)):
        return _sniffed(bytes(value), max_bytes, max_side, "the image data")
    if isinstance(value, (str, os.PathLike)):
        return _file(Path(value), max_bytes, max_side)
    for method in ("_repr_png_", "_repr_jpeg_"):  # IPython's rich-display protocol
        data = _rich_bytes(value, method)
        if data:
            return _sniffed(data, max_bytes, max_side, f"the {type(value).__name__}")
    raise errors.BadRequest(f"cannot send a {type(value).__name__} as an image: pass {SHAPES}")


def is_image(value: Any) -> bool:
    """Whether a notebook value is a picture (a figure, axes, PIL or IPython image) rather than data."""
    return _figure_of(value) is not None or is_a(value, "PIL", "Image") or is_a(value, "IPython", "Image")


def image_for(reference: str, shell: Any) -> ImagePart:
    """The image an `--image` argument names: `_` (the last figure or image shown), a variable (or `df.attr`,
    `Out[3]`), or a file path."""
    if reference == "_":
        return image_part(last_image(shell))
    try:
        value = lookup(reference, shell.user_ns)
    except LookupError:
        if not Path(reference).expanduser().is_file():
            raise errors.BadRequest(f"--image {reference}: no variable or image file of that name; pass {SHAPES} "
                                    "(or _ for the last figure shown)") from None
        value = Path(reference).expanduser()
    return image_part(value)


def last_image(shell: Any) -> Any:
    """What `--image _` means: the last figure or image the notebook showed. In order: the current open pyplot
    figure (backends that keep figures open: widget/ipympl, Agg, inline with close_figures off); else, newest cell
    first, an output value that is a figure, an artist of one (the `[<Line2D>]` of `plt.plot(...)`, the Axes of
    `df.plot()`), a PIL or IPython image, or an image/png or image/jpeg display output IPython kept in its history
    (plain IPython; ipykernel with `ZMQDisplayPublisher.store_display_history = True`). The inline backend closes
    its figures once shown, so a cell ending in `plt.show()` leaves nothing behind: keep `fig` and pass it by name."""
    if "matplotlib._pylab_helpers" in sys.modules:
        manager = sys.modules["matplotlib._pylab_helpers"].Gcf.get_active()
        if manager is not None:
            return manager.canvas.figure
    shown = next(_shown(shell), None)
    if shown is not None:
        return shown
    raise errors.BadRequest("--image _: no figure or image shown yet; end a cell with the figure (fig, or "
                            "plt.plot(...)) or pass it by name: --image fig")


def _shown(shell: Any) -> Iterator[Any]:
    """Output values that are pictures and the display images IPython kept, newest cell first (within a cell the
    output value, then the images last shown first)."""
    values = shell.user_ns.get("Out", {})
    displayed = getattr(getattr(shell, "history_manager", None), "outputs", None) or {}
    for count in sorted(set(values) | set(displayed), reverse=True):
        if is_image(values.get(count)):
            yield values[count]
        for output in reversed(displayed.get(count, [])):
            data = output.bundle.get("image/png") or output.bundle.get("image/jpeg")
            if data:
                yield data if isinstance(data, bytes) else base64.b64decode(data)


def _figure_of(value: Any) -> Any:
    """The matplotlib Figure of a figure, axes or artist (or a list of artists, as `plt.plot` returns), else None."""
    if isinstance(value, (list, tuple)) and value:
        value = value[0]
    if is_a(value, "matplotlib", "Figure"):
        return value
    if is_a(value, "matplotlib", "Artist"):
        figure = getattr(value, "figure", None)
        return figure if is_a(figure, "matplotlib", "Figure") else None
    return None


def _figure_png(figure: Any, max_side: int) -> bytes:
    width, height = figure.get_size_inches()
    dpi = min(figure.dpi, max_side / max(width, height, 1e-6))
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    return buffer.getvalue()


def _pil(image: Any, max_bytes: int, max_side: int) -> ImagePart:
    """PNG, scaled down to `max_side`; a photo too big as PNG goes as JPEG instead."""
    if max(image.size) > max_side:
        image = image.copy()
        image.thumbnail((max_side, max_side))
    if image.mode not in _PNG_MODES:  # CMYK, YCbCr, 32-bit, float...: PNG cannot hold them
        try:
            image = image.convert("RGBA" if "a" in image.mode.lower() else "RGB")
        except ValueError:
            raise errors.BadRequest(f"cannot send a PIL image in mode {image.mode}: convert it first, e.g. "
                                    "image.convert('RGB')") from None
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    if buffer.tell() > max_bytes:
        buffer = io.BytesIO()
        image.convert("RGB").save(buffer, format="JPEG", quality=90)
        return _checked(ImagePart("image/jpeg", buffer.getvalue()), max_bytes, "the image")
    return ImagePart("image/png", buffer.getvalue())


def _file(path: Path, max_bytes: int, max_side: int) -> ImagePart:
    path = path.expanduser()
    if not path.is_file():
        raise errors.BadRequest(f"no image file {str(path)!r}: pass {SHAPES}")
    size = path.stat().st_size
    if size > max_bytes:  # refuse before reading it
        raise errors.BadRequest(_too_big(size, max_bytes, path.name))
    return _sniffed(path.read_bytes(), max_bytes, max_side, path.name)


def _sniffed(data: bytes, max_bytes: int, max_side: int, what: str) -> ImagePart:
    """Bytes with their media type read from the first bytes; other formats (BMP, TIFF...) converted to PNG."""
    media_type = next((kind for magic, kind in _SIGNATURES if data.startswith(magic)), None)
    if media_type is None and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        media_type = "image/webp"
    if media_type is None:
        return _converted(data, max_bytes, max_side, what)
    return _checked(ImagePart(media_type, data), max_bytes, what)


def _converted(data: bytes, max_bytes: int, max_side: int, what: str) -> ImagePart:
    try:
        from PIL import Image, UnidentifiedImageError
    except ImportError:
        raise errors.BadRequest(f"{what} is not a PNG, JPEG, GIF or WebP image; pip install pillow to convert other "
                                "formats") from None
    try:
        image = Image.open(io.BytesIO(data))
        image.load()
    except (UnidentifiedImageError, OSError):
        raise errors.BadRequest(f"{what} is not an image (PNG, JPEG, GIF, WebP or another format pillow reads)") \
            from None
    return _pil(image, max_bytes, max_side)


def _checked(image: ImagePart, max_bytes: int, what: str) -> ImagePart:
    if len(image.data) > max_bytes:
        raise errors.BadRequest(_too_big(len(image.data), max_bytes, what))
    return image


def _too_big(size: int, max_bytes: int, what: str) -> str:
    return (f"{what} is {size / 2**20:.1f} MB, over the {max_bytes / 2**20:g} MB a model takes per image: scale "
            "it down (PIL's Image.thumbnail; a PIL image passed as such is scaled for you) or save it as JPEG")


def _rich_bytes(value: Any, method: str) -> bytes | None:
    from .render import rich_repr
    data = rich_repr(value, method)
    if isinstance(data, str):
        return base64.b64decode(data)
    return data if isinstance(data, bytes) else None
