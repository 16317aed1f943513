"""Optional image codecs: HEIC through pillow-heif, AVIF through Pillow's own plugin.

Every module that decodes images calls ``optional_formats()`` first, so a worker process that
never built the inspector still reads what the API accepted.
"""

from __future__ import annotations

from functools import lru_cache

# Pillow format names and the content types they are stored and served as.
CONTENT_TYPES = {
    "JPEG": "image/jpeg",
    "PNG": "image/png",
    "GIF": "image/gif",
    "WEBP": "image/webp",
    "HEIF": "image/heic",
    "AVIF": "image/avif",
}
WEB_FORMATS = ("JPEG", "PNG", "GIF", "WEBP")


def accepted_formats() -> tuple[str, ...]:
    """The Pillow formats an upload may be here: the four web formats and the optional ones whose
    decoders are installed."""
    return (*WEB_FORMATS, *optional_formats())


def accepted_content_types() -> tuple[str, ...]:
    """:func:`accepted_formats` as content types, for the upload form and its errors."""
    return tuple(CONTENT_TYPES[f] for f in accepted_formats())


@lru_cache(maxsize=1)
def optional_formats() -> tuple[str, ...]:
    """Register the optional decoders once per process; the Pillow format names now readable."""
    extra: list[str] = []
    try:
        import pillow_heif

        pillow_heif.register_heif_opener()
        extra.append("HEIF")
    except ImportError:
        pass
    from PIL import features

    if features.check("avif"):
        extra.append("AVIF")
    return tuple(extra)
