"""A layout cue the classifier lacks: a smooth blue band across the top of a photo is sky.

ImageNet-1k has no "sky" class, so a landscape whose classes are all unsure (a bridge at dusk, a
sunset) gets no word at all. The cue is deliberately narrow: the top ROWS of a 64 px copy must be
smooth (MAX_GRADIENT) yet shaded row to row (MIN_SHADING) and blue to cyan on average, and images
with transparent pixels (cut-outs, drawn stamps) never have sky. On the 145 development photos it
fires on 13: 12 with open sky at the top and a caterpillar before blue bokeh; never on a purple
wallpaper, gray backdrops, foliage or night skies.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from imagerepo.adapters.local.decode import Decoded

_SIDE = 64
ROWS = 20  # the top ~30% of the image
MAX_GRADIENT = 6.0  # mean absolute step between neighbouring pixels (0..255) in that band
# Skies shade from the zenith toward the horizon: the mean step between rows is 1.1-3.5 on the
# development photos' skies; graphics (a flat fill, a flag's vertical stripes) have none.
MIN_SHADING = 0.5
_MIN_BLUE = 90.0
_BLUER_THAN_RED = 15.0
# Blue may trail green a little (cyan, haze) but red may not exceed green much (purple).
_GREEN_SLACK = 5.0


def has_sky(image: Decoded) -> bool:
    """Whether the top of the image is a smooth blue band (sky); False for cut-outs."""
    if image.opaque is not None and not bool(image.opaque.all()):
        return False
    small = np.asarray(Image.fromarray(image.rgb).resize((_SIDE, _SIDE), Image.Resampling.BOX), dtype=np.float32)
    top = small[:ROWS]
    shading = float(np.abs(np.diff(top, axis=0)).mean())
    gradient = shading + float(np.abs(np.diff(top, axis=1)).mean())
    r, g, b = (float(top[..., c].mean()) for c in range(3))
    blue = b >= _MIN_BLUE and b > r + _BLUER_THAN_RED and b >= g - _GREEN_SLACK and g >= r - _GREEN_SLACK
    return blue and shading >= MIN_SHADING and gradient < MAX_GRADIENT
