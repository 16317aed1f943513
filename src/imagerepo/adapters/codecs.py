"""Optional image codecs: HEIC through pillow-heif, AVIF through Pillow's own plugin.

Every module that decodes images calls ``optional_formats()`` first, so a worker process that
never built the inspector still reads what the API accepted.
"""

from __future__ import annotations

from functools import lru_cache

_OPTIONAL_CONTENT_TYPES = {"HEIF": "image/heic", "AVIF": "image/avif"}


def accepted_content_types() -> tuple[str, ...]:
    """What an upload may be on this installation: the four web formats and the optional ones
    whose decoders are installed."""
    from imagerepo.domain.images import ACCEPTED_CONTENT_TYPES

    return (*ACCEPTED_CONTENT_TYPES, *(_OPTIONAL_CONTENT_TYPES[f] for f in optional_formats()))


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
