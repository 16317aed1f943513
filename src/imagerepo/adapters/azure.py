"""ImageAnalyzer backed by Azure AI Vision (Computer Vision v3.2 analyze, or Image Analysis 4.0)."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import attrs
import httpx

from imagerepo.adapters.imaging import ImageLimits, PreparedImage, fit_within
from imagerepo.domain.colors import COLOR_VOCABULARY, color_name, parse_hex, to_hex
from imagerepo.domain.errors import AnalysisFailed, InvalidImage
from imagerepo.domain.images import AnalysisResult, Color, Tag

log = logging.getLogger(__name__)

API_V32 = "v3.2"
API_V40 = "4.0"

# Input requirements (overview-image-analysis.md). "4 MB" is read as 4,000,000 bytes to be safe
# under either meaning; 4.0 documents its limit as 20,971,520 bytes.
LIMITS = {
    # Description/Tags/Color gain nothing above 2048 px, and a smaller copy is much quicker to make.
    API_V32: ImageLimits(
        max_bytes=4_000_000,
        min_side=50,
        max_side=16_000,
        formats=frozenset({"JPEG", "PNG", "GIF", "BMP"}),
        reencode_side=2048,
    ),
    API_V40: ImageLimits(
        max_bytes=20_971_520,
        min_side=50,
        max_side=16_000,
        formats=frozenset({"JPEG", "PNG", "GIF", "BMP", "WEBP", "ICO", "TIFF", "MPO"}),
    ),
}

# Azure's color vocabulary (v3.2 ColorInfo) -> one of imagerepo's anchors. Azure names only.
AZURE_COLOR_ANCHORS: dict[str, str] = {
    "black": "black", "blue": "blue", "brown": "brown", "gray": "gray", "grey": "gray",
    "green": "green", "orange": "orange", "pink": "pink", "purple": "purple", "red": "red",
    "teal": "teal", "white": "white", "yellow": "yellow",
}  # fmt: skip

# Azure gives color names but no shares; the shares below are estimates (see _azure_colors).
BACKGROUND_WEIGHT = 2.0
FOREGROUND_WEIGHT = 1.5
OTHER_DOMINANT_WEIGHT = 1.0
ACCENT_FRACTION = 0.08

_HEX6 = re.compile(r"[0-9a-fA-F]{6}")
_RETRY_AFTER_IN_BODY = re.compile(r"retry after (\d+(?:\.\d+)?) seconds?", re.IGNORECASE)
_RETRYABLE_STATUS = frozenset({408, 429, 500, 502, 503, 504})
BASE_BACKOFF_SECONDS = 1.0
MAX_BACKOFF_SECONDS = 30.0


@attrs.frozen
class _Attempt:
    """What one failed call told us: why, whether to try again, and how long Azure asked to wait."""

    reason: str
    retryable: bool
    retry_after: float | None = None


class AzureVisionAnalyzer:
    """Sends the image bytes to Azure and maps the answer onto imagerepo's analysis.

    Rate limits, timeouts and 5xx are retried in the call with exponential backoff that honours
    Retry-After, within ``max_wait_seconds`` of sleeping in total (so a worker's lease is not
    outlived); after that AnalysisFailed(retryable=True, retry_after=...) lets the worker
    reschedule the job. Other 4xx are final. The key is sent only in the
    Ocp-Apim-Subscription-Key header and is kept out of reprs, logs and messages.
    """

    name = "azure"

    def __init__(
        self,
        client: httpx.Client,
        endpoint: str,
        key: str,
        *,
        api: str = API_V32,
        timeout_seconds: float = 30.0,
        max_retries: int = 4,
        sleep: Callable[[float], None] = time.sleep,
        max_wait_seconds: float = 120.0,
        palette: Callable[[bytes], Sequence[Color]] | None = None,
    ) -> None:
        if api not in LIMITS:
            raise ValueError(f"api must be {API_V32!r} or {API_V40!r}, not {api!r}")
        if not endpoint.startswith(("https://", "http://")):
            raise ValueError("endpoint must be an http(s) URL such as https://<resource>.cognitiveservices.azure.com")
        if not key:
            raise ValueError("an Azure subscription key is required")
        self._client = client
        self.endpoint = endpoint.rstrip("/")
        self._key = _Secret(key)
        self.api = api
        self.timeout_seconds = timeout_seconds
        self.max_retries = max_retries
        self._sleep = sleep
        self.max_wait_seconds = max_wait_seconds
        # Image Analysis 4.0 returns no colors: ``palette`` fills them in, by default the offline
        # analyzer's palette when that module is importable.
        self._palette = palette
        # Captions exist only in some Azure regions; dropped after the first refusal.
        self._features_40 = ["caption", "tags", "read"]

    def __repr__(self) -> str:
        return f"AzureVisionAnalyzer(endpoint={self.endpoint!r}, api={self.api!r})"

    # ------------------------------------------------------------------ the port

    def analyze(self, data: bytes, content_type: str, preview: bytes | None = None) -> AnalysisResult:
        # The preview is not used: Azure reads text too, and gets the original, fitted to its limits.
        try:
            prepared = fit_within(data, LIMITS[self.api])
        except InvalidImage as e:
            raise AnalysisFailed(self._scrub(e.message), retryable=False) from e
        if prepared.reencoded:
            size = len(prepared.data)
            log.debug("sending a %dx%d JPEG copy (%d bytes) to Azure", prepared.width, prepared.height, size)
        if self.api == API_V32:
            body = self._call(self._url_v32(), prepared)
            return self._result_v32(body)
        try:
            body = self._call(self._url_v40(), prepared)
        except _CaptionsNotOffered:
            log.warning("Azure region does not offer captions; analyzing without them")
            self._features_40 = [f for f in self._features_40 if f != "caption"]
            body = self._call(self._url_v40(), prepared)
        return self._result_v40(body, data)

    # ------------------------------------------------------------------ HTTP with retries

    def _url_v32(self) -> httpx.URL:
        return httpx.URL(
            f"{self.endpoint}/vision/v3.2/analyze",
            params={"visualFeatures": "Description,Tags,Color", "language": "en", "model-version": "latest"},
        )

    def _url_v40(self) -> httpx.URL:
        return httpx.URL(
            f"{self.endpoint}/computervision/imageanalysis:analyze",
            params={"api-version": "2024-02-01", "features": ",".join(self._features_40), "language": "en"},
        )

    def _call(self, url: httpx.URL, image: PreparedImage) -> dict[str, Any]:
        waited = 0.0
        attempts = self.max_retries + 1
        for attempt in range(1, attempts + 1):
            outcome = self._once(url, image)
            if isinstance(outcome, dict):
                return outcome
            if not outcome.retryable:
                raise AnalysisFailed(outcome.reason, retryable=False)
            backoff = min(MAX_BACKOFF_SECONDS, BASE_BACKOFF_SECONDS * 2 ** (attempt - 1))
            delay = max(backoff, outcome.retry_after or 0.0)
            if attempt == attempts or waited + delay > self.max_wait_seconds:
                raise AnalysisFailed(
                    f"{outcome.reason} (gave up for now after {attempt} attempt{'s' if attempt > 1 else ''})",
                    retryable=True,
                    retry_after=delay,
                )
            log.warning("%s; retrying in %.1f s (attempt %d of %d)", outcome.reason, delay, attempt, attempts)
            self._sleep(delay)
            waited += delay
        raise AssertionError("unreachable")  # pragma: no cover

    def _once(self, url: httpx.URL, image: PreparedImage) -> dict[str, Any] | _Attempt:
        try:
            response = self._client.post(
                url,
                content=image.data,
                headers={
                    "Ocp-Apim-Subscription-Key": self._key.reveal(),
                    "Content-Type": "application/octet-stream",
                },
                timeout=self.timeout_seconds,
                # A redirect would carry the key header to wherever it points.
                follow_redirects=False,
            )
        except httpx.TimeoutException:
            return _Attempt(f"Azure Computer Vision did not answer within {self.timeout_seconds:g} s", True)
        except httpx.TransportError as e:
            reason = f"Azure Computer Vision is unreachable: {type(e).__name__}: {e}"
            return _Attempt(self._scrub(reason), True)
        if response.status_code == 200:
            try:
                body = response.json()
            except ValueError:
                return _Attempt("Azure Computer Vision sent a response that is not JSON", True)
            if not isinstance(body, dict):
                return _Attempt("Azure Computer Vision sent an unexpected response", True)
            return body
        return self._failure(response)

    def _failure(self, response: httpx.Response) -> _Attempt:
        status = response.status_code
        code, message = _error_of(response)
        detail = self._scrub(f"{code}: {message}" if code and code != str(status) else message)[:400]
        if status == 429:
            reason = f"Azure Computer Vision rate limit reached (429): {detail}"
            return _Attempt(reason, True, _retry_after(response, message))
        if status in _RETRYABLE_STATUS:
            reason = f"Azure Computer Vision is unavailable ({status}): {detail}"
            return _Attempt(reason, True, _retry_after(response, message))
        if status in (401, 403):
            return _Attempt(f"Azure Computer Vision refused the credentials ({status}): {detail}", False)
        if code == "NotSupportedVisualFeature" and self.api == API_V40 and "caption" in self._features_40:
            raise _CaptionsNotOffered()
        if status == 400:
            return _Attempt(f"Azure Computer Vision refused the image (400): {detail}", False)
        return _Attempt(f"Azure Computer Vision refused the request ({status}): {detail}", False)

    def _scrub(self, text: str) -> str:
        return text.replace(self._key.reveal(), "***")

    # ------------------------------------------------------------------ mapping

    def _result_v32(self, body: Mapping[str, Any]) -> AnalysisResult:
        captions = _dicts(_get(body, "description", "captions"))
        color = body.get("color")
        colors, azure_colors = _azure_colors(color if isinstance(color, dict) else {})
        tags = _dicts(body.get("tags"))
        hints = {str(t["name"]): str(t["hint"]) for t in tags if t.get("hint") and t.get("name")}
        return AnalysisResult(
            analyzer=self.name,
            description=_best_caption(captions),
            tags=_tags(tags),
            colors=colors,
            extra={
                "azure_api": self.api,
                "azure_model_version": str(body.get("modelVersion", "")),
                "azure_colors": azure_colors,
                "azure_tag_hints": hints,
            },
        )

    def _result_v40(self, body: Mapping[str, Any], original: bytes) -> AnalysisResult:
        caption = body.get("captionResult")
        lines = [
            str(line.get("text", ""))
            for block in _dicts(_get(body, "readResult", "blocks"))
            for line in _dicts(block.get("lines"))
        ]
        colors = tuple((self._palette or local_palette)(original))
        return AnalysisResult(
            analyzer=self.name,
            description=_best_caption([caption] if isinstance(caption, dict) else []),
            tags=_tags(_dicts(_get(body, "tagsResult", "values"))),
            colors=colors,
            text="\n".join(line for line in lines if line),
            extra={"azure_api": self.api, "azure_model_version": str(body.get("modelVersion", ""))},
        )


def local_palette(data: bytes) -> tuple[Color, ...]:
    """The offline analyzer's palette of ``data``; empty when that module is not available."""
    try:
        from imagerepo.adapters.local.decode import decode
        from imagerepo.adapters.local.palette import palette
    except ImportError:
        return ()
    try:
        decoded = decode(data)
    except AnalysisFailed:
        return ()
    return tuple(palette(decoded.rgb, decoded.opaque))


class _Secret:
    """Holds the subscription key; prints as *** wherever an object dump might show it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "***"

    __str__ = __repr__


class _CaptionsNotOffered(Exception):
    """Image Analysis 4.0 in a region without captions refuses any request that asks for them."""


# ---------------------------------------------------------------------- pure helpers


def _get(body: Mapping[str, Any], *path: str) -> Any:
    node: Any = body
    for part in path:
        node = node.get(part) if isinstance(node, dict) else None
    return node


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _error_of(response: httpx.Response) -> tuple[str, str]:
    """(code, message) of Azure's error body; the inner error is the specific one."""
    try:
        body = response.json()
    except ValueError:
        return "", (response.text.strip()[:200] or response.reason_phrase or f"HTTP {response.status_code}")
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return "", response.reason_phrase or f"HTTP {response.status_code}"
    inner = error.get("innererror")
    if isinstance(inner, dict) and inner.get("code"):
        return str(inner["code"]), str(inner.get("message") or error.get("message") or "")
    return str(error.get("code") or ""), str(error.get("message") or "")


def _retry_after(response: httpx.Response, message: str) -> float | None:
    """Seconds Azure asks us to wait: the Retry-After header (seconds or HTTP date), else the body."""
    header = response.headers.get("retry-after", "").strip()
    if header:
        try:
            return max(0.0, float(header))
        except ValueError:
            pass
        try:
            when = parsedate_to_datetime(header)
        except (TypeError, ValueError):
            when = None
        if when is not None:
            if when.tzinfo is None:
                when = when.replace(tzinfo=UTC)
            return max(0.0, (when - datetime.now(UTC)).total_seconds())
    m = _RETRY_AFTER_IN_BODY.search(message)
    return float(m.group(1)) if m else None


def as_sentence(text: str) -> str:
    """'a man pointing at a screen' -> 'A man pointing at a screen.' (the rest's case is kept)."""
    text = " ".join(text.split())
    if not text:
        return ""
    text = text[0].upper() + text[1:]
    return text if text[-1] in ".!?" else text + "."


def _best_caption(captions: Sequence[Mapping[str, Any]]) -> str:
    best = max(
        (c for c in captions if isinstance(c.get("text"), str) and c["text"].strip()),
        key=lambda c: _confidence(c.get("confidence")),
        default=None,
    )
    return as_sentence(best["text"]) if best else ""


def _confidence(value: Any) -> float:
    try:
        c = float(value)
    except (TypeError, ValueError):
        return 0.0
    return min(1.0, max(0.0, c)) if c == c else 0.0  # NaN -> 0


def _tags(raw: Sequence[Mapping[str, Any]]) -> tuple[Tag, ...]:
    """Tags by falling confidence, one per name (the most confident)."""
    best: dict[str, float] = {}
    for t in raw:
        name = " ".join(str(t.get("name") or "").split())
        if name:
            best[name] = max(best.get(name, 0.0), _confidence(t.get("confidence")))
    return tuple(Tag(n, round(c, 4)) for n, c in sorted(best.items(), key=lambda kv: (-kv[1], kv[0])))


def _anchor_hex(azure_name: str) -> str | None:
    ours = AZURE_COLOR_ANCHORS.get(azure_name.strip().casefold())
    return to_hex(COLOR_VOCABULARY[ours][0]) if ours else None


def _azure_colors(color: Mapping[str, Any]) -> tuple[tuple[Color, ...], dict[str, Any]]:
    """Azure's ColorInfo -> (imagerepo colors, Azure's own names kept for extra["azure_colors"]).

    Azure names colors but gives no shares, so shares are estimated: the background usually
    covers most of a picture, the foreground the next most, other dominant colors less; weights
    2 : 1.5 : 1 (summed when one name plays several roles) share what the accent leaves. The
    accent is by Azure's definition a vivid, small highlight: a fixed 8% (above the 3% that
    color search ignores). Each hex is the imagerepo anchor of that name; the accent keeps
    Azure's exact hex. Shares sum to 1.
    """
    background = str(color.get("dominantColorBackground") or "")
    foreground = str(color.get("dominantColorForeground") or "")
    dominant = [str(c) for c in color.get("dominantColors") or [] if isinstance(c, str)]
    accent_raw = str(color.get("accentColor") or "").strip().lstrip("#")
    is_bw = color.get("isBWImg", color.get("isBwImg"))
    kept: dict[str, Any] = {
        "background": background or None,
        "foreground": foreground or None,
        "dominant": dominant,
        "accent": f"#{accent_raw.lower()}" if _HEX6.fullmatch(accent_raw) else None,
        "is_bw": bool(is_bw) if is_bw is not None else None,
    }
    roles = [(background, BACKGROUND_WEIGHT), (foreground, FOREGROUND_WEIGHT)]
    seen = {background.casefold(), foreground.casefold()}
    for d in dominant:
        if d.casefold() not in seen:
            seen.add(d.casefold())
            roles.append((d, OTHER_DOMINANT_WEIGHT))
    weights: dict[str, float] = {}
    for name, weight in roles:
        hex_ = _anchor_hex(name) if name else None
        if hex_:
            weights[hex_] = weights.get(hex_, 0.0) + weight
    accent_hex = f"#{accent_raw.lower()}" if _HEX6.fullmatch(accent_raw) else None
    total = sum(weights.values())
    share = 1.0 - ACCENT_FRACTION if accent_hex and total else 1.0
    shares = {h: share * w / total for h, w in weights.items()}
    if accent_hex:  # an accent equal to a named color's anchor adds to that color
        shares[accent_hex] = shares.get(accent_hex, 0.0) + (ACCENT_FRACTION if total else 1.0)
    colors = sorted((_color(h, f) for h, f in shares.items()), key=lambda c: -c.fraction)
    return tuple(colors), kept


def _color(hex_: str, fraction: float) -> Color:
    return Color(hex_, round(fraction, 4), color_name(parse_hex(hex_)))
