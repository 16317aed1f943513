"""AzureVisionAnalyzer against an httpx.MockTransport that plays the documented Azure service."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image as PILImage

from imagerepo.adapters.azure import (
    ACCENT_FRACTION,
    AZURE_COLOR_ANCHORS,
    AzureVisionAnalyzer,
    _azure_colors,
    as_sentence,
)
from imagerepo.adapters.imaging import ImageLimits, fit_within
from imagerepo.adapters.memory import InMemoryBlobStore, InMemoryImageRepository, ManualClock
from imagerepo.domain.analysis_service import AnalysisService
from imagerepo.domain.colors import COLOR_MIN_FRACTION, COLOR_VOCABULARY
from imagerepo.domain.errors import AnalysisFailed, InvalidImage
from imagerepo.domain.images import Analysis, AnalysisStatus, Color, Image

PAYLOADS = Path(__file__).parent / "azure_payloads"
ENDPOINT = "https://imagerepo-test.cognitiveservices.azure.com/"
KEY = "0123456789abcdef0123456789abcdef"


def payload(name: str) -> tuple[int, dict[str, str], dict[str, Any]]:
    """(status, headers, wire body) of a documented sample; '_' keys are annotations."""
    raw = json.loads((PAYLOADS / name).read_text())
    body = {k: v for k, v in raw.items() if not k.startswith("_")}
    return raw.get("_http_status", 200), dict(raw.get("_headers", {})), body


OK_V32 = "v3.2_analyze_Description_Tags_Color_200.json"
OK_V40 = "v4.0_2024-02-01_analyze_caption_tags_read_200.json"
RATE_LIMIT = "v3.2_error_429_rate_limit.json"
TIMEOUT = "timeout"
Step = str | tuple[int, dict[str, str], Any]


class FakeAzure:
    """Plays Azure: checks the key and the request like the service does, then answers from a script.

    Each step is a payload file name, TIMEOUT, or (status, headers, body); the last step repeats.
    """

    def __init__(self, *steps: Step, check_request: Callable[[httpx.Request], None] | None = None) -> None:
        self.steps = list(steps) or [OK_V32]
        self.requests: list[httpx.Request] = []
        self.check_request = check_request

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        step = self.steps.pop(0) if len(self.steps) > 1 else self.steps[0]
        if request.headers.get("Ocp-Apim-Subscription-Key") != KEY:
            return httpx.Response(401, json=payload("cognitive_error_401.json")[2])
        if self.check_request:
            self.check_request(request)
        if step == TIMEOUT:
            raise httpx.ReadTimeout("timed out", request=request)
        status, headers, body = payload(step) if isinstance(step, str) else step
        if isinstance(body, (dict, list)):
            return httpx.Response(status, headers=headers, json=body)
        return httpx.Response(status, headers=headers, content=body)

    @property
    def bodies(self) -> list[bytes]:
        return [r.content for r in self.requests]


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def make(fake: FakeAzure, *, key: str = KEY, **kwargs: Any) -> tuple[AzureVisionAnalyzer, Sleeps]:
    sleeps = Sleeps()
    client = httpx.Client(transport=httpx.MockTransport(fake))
    return AzureVisionAnalyzer(client, ENDPOINT, key, sleep=sleeps, **kwargs), sleeps


def image_bytes(
    width: int = 320, height: int = 240, fmt: str = "PNG", *, noise: bool = False, **save: Any
) -> bytes:
    if noise:
        rng = np.random.default_rng(width * 7919 + height)
        img = PILImage.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8))
    else:
        img = PILImage.new("RGB", (width, height), (200, 120, 40))
    buf = io.BytesIO()
    img.save(buf, fmt, **save)
    return buf.getvalue()


def decoded(data: bytes) -> PILImage.Image:
    img = PILImage.open(io.BytesIO(data))
    img.load()
    return img


SMALL_PNG = image_bytes()


# ---------------------------------------------------------------------- success, v3.2


def test_v32_maps_caption_tags_and_colors_from_the_documented_answer() -> None:
    fake = FakeAzure(OK_V32)
    analyzer, sleeps = make(fake)

    result = analyzer.analyze(SMALL_PNG, "image/png")

    assert result.analyzer == "azure"
    assert result.description == "A man pointing at a screen."
    assert [t.name for t in result.tags][:3] == ["text", "clothing", "person"]
    assert result.tags[0].confidence == pytest.approx(0.9966, abs=1e-4)
    confidences = [t.confidence for t in result.tags]
    assert confidences == sorted(confidences, reverse=True)
    assert "pangolin" in {t.name for t in result.tags}
    assert result.extra["azure_tag_hints"] == {"pangolin": "mammal"}
    # White dominates; the accent keeps Azure's exact hex, with '#'.
    white = result.colors[0]
    assert (white.hex, white.name) == ("#ffffff", "white")
    assert white.fraction == pytest.approx(1 - ACCENT_FRACTION)
    accent = result.colors[1]
    assert accent.hex == "#1e6a8c"
    assert accent.fraction == ACCENT_FRACTION
    assert accent.name in {"blue", "teal"}
    assert sum(c.fraction for c in result.colors) == pytest.approx(1.0, abs=1e-3)
    assert result.extra["azure_colors"] == {
        "background": "White",
        "foreground": "White",
        "dominant": ["White"],
        "accent": "#1e6a8c",
        "is_bw": False,
    }
    assert sleeps == []


def test_v32_request_is_what_azure_documents_and_a_fitting_image_goes_byte_for_byte() -> None:
    fake = FakeAzure(OK_V32)
    analyzer, _ = make(fake)

    analyzer.analyze(SMALL_PNG, "image/png")

    (request,) = fake.requests
    assert request.method == "POST"
    assert request.url.host == "imagerepo-test.cognitiveservices.azure.com"
    assert request.url.path == "/vision/v3.2/analyze"
    assert request.url.params["visualFeatures"] == "Description,Tags,Color"
    assert request.headers["Content-Type"] == "application/octet-stream"
    assert request.content == SMALL_PNG
    assert request.extensions["timeout"]["read"] == 30.0


@pytest.mark.parametrize("spelling", ["isBWImg", "isBwImg"])
def test_black_and_white_flag_is_read_under_either_spelling(spelling: str) -> None:
    status, headers, body = payload(OK_V32)
    body["color"] = {
        "dominantColorForeground": "Black",
        "dominantColorBackground": "Grey",
        "dominantColors": ["Grey", "Black", "White"],
        "accentColor": "595144",
        spelling: True,
    }
    analyzer, _ = make(FakeAzure((status, headers, body)))

    result = analyzer.analyze(SMALL_PNG, "image/png")

    assert result.extra["azure_colors"]["is_bw"] is True
    assert [c.name for c in result.colors][:3] == ["gray", "black", "white"]
    fractions = [c.fraction for c in result.colors]
    assert fractions == sorted(fractions, reverse=True)
    assert sum(fractions) == pytest.approx(1.0, abs=1e-3)


def test_caption_with_highest_confidence_wins_and_missing_parts_give_empty_fields() -> None:
    body = {
        "description": {
            "captions": [
                {"text": "a cat on a sofa", "confidence": 0.41},
                {"text": "a cat lying on a red sofa", "confidence": 0.77},
            ]
        },
        "requestId": "x",
    }
    analyzer, _ = make(FakeAzure((200, {}, body)))

    result = analyzer.analyze(SMALL_PNG, "image/png")

    assert result.description == "A cat lying on a red sofa."
    assert result.tags == ()
    assert result.colors == ()


# ---------------------------------------------------------------------- final errors


@pytest.mark.parametrize(
    ("step", "expected"),
    [
        ("v3.2_error_400_InvalidImageFormat.json", "Input data is not a valid image."),
        ("v3.2_error_400_InvalidImageSize.json", "Image must be at least 50 pixels in width and height"),
        ((415, {}, {"error": {"code": "BadArgument", "message": "Unsupported media type."}}), "Unsupported"),
        ((404, {}, {"error": {"code": "404", "message": "Resource not found"}}), "Resource not found"),
    ],
)
def test_client_errors_fail_for_good_with_azures_message(step: Step, expected: str) -> None:
    fake = FakeAzure(step)
    analyzer, sleeps = make(fake)

    with pytest.raises(AnalysisFailed) as failed:
        analyzer.analyze(SMALL_PNG, "image/png")

    assert failed.value.retryable is False
    assert expected in failed.value.message
    assert len(fake.requests) == 1
    assert sleeps == []


def test_invalid_image_format_names_azures_code() -> None:
    analyzer, _ = make(FakeAzure("v3.2_error_400_InvalidImageFormat.json"))

    with pytest.raises(AnalysisFailed, match="InvalidImageFormat"):
        analyzer.analyze(SMALL_PNG, "image/png")


def test_wrong_key_fails_for_good_without_showing_the_key() -> None:
    fake = FakeAzure(OK_V32)
    wrong = "ffffffffffffffffffffffffffffffff"
    analyzer, sleeps = make(fake, key=wrong)

    with pytest.raises(AnalysisFailed) as failed:
        analyzer.analyze(SMALL_PNG, "image/png")

    assert failed.value.retryable is False
    assert "Access denied" in failed.value.message
    assert "401" in failed.value.message
    assert wrong not in str(failed.value)
    assert sleeps == []


def test_redirects_are_not_followed_so_the_key_goes_nowhere_else() -> None:
    fake = FakeAzure((302, {"Location": "https://elsewhere.example/steal"}, b""))
    analyzer, _ = make(fake)

    with pytest.raises(AnalysisFailed) as failed:
        analyzer.analyze(SMALL_PNG, "image/png")

    assert failed.value.retryable is False
    assert [r.url.host for r in fake.requests] == ["imagerepo-test.cognitiveservices.azure.com"]


# ---------------------------------------------------------------------- retries


def test_rate_limit_waits_as_long_as_retry_after_says_then_succeeds() -> None:
    fake = FakeAzure(RATE_LIMIT, OK_V32)
    analyzer, sleeps = make(fake)

    result = analyzer.analyze(SMALL_PNG, "image/png")

    assert result.description == "A man pointing at a screen."
    assert sleeps == [55.0]
    assert len(fake.requests) == 2


def test_rate_limit_without_header_reads_the_wait_from_the_message() -> None:
    status, _, body = payload(RATE_LIMIT)
    body["error"]["message"] = body["error"]["message"].replace("55 seconds", "7 seconds")
    fake = FakeAzure((status, {}, body), OK_V32)
    analyzer, sleeps = make(fake)

    analyzer.analyze(SMALL_PNG, "image/png")

    assert sleeps == [7.0]


def test_rate_limit_forever_gives_the_job_back_to_the_worker_with_the_wait() -> None:
    fake = FakeAzure(RATE_LIMIT)
    analyzer, sleeps = make(fake, max_wait_seconds=10_000)

    with pytest.raises(AnalysisFailed) as failed:
        analyzer.analyze(SMALL_PNG, "image/png")

    assert failed.value.retryable is True
    assert failed.value.retry_after == 55.0
    assert "rate limit" in failed.value.message
    assert len(fake.requests) == 5  # the first call and max_retries=4 more
    assert sleeps == [55.0] * 4


def test_long_waits_are_left_to_the_worker_instead_of_outliving_its_lease() -> None:
    fake = FakeAzure(RATE_LIMIT)
    analyzer, sleeps = make(fake)  # max_wait_seconds=120

    with pytest.raises(AnalysisFailed) as failed:
        analyzer.analyze(SMALL_PNG, "image/png")

    assert failed.value.retryable is True
    assert sum(sleeps) <= 120
    assert sleeps == [55.0, 55.0]
    assert len(fake.requests) == 3


def test_server_errors_back_off_exponentially_then_succeed() -> None:
    err = {"error": {"code": "InternalServerError", "message": "An internal error occurred."}}
    fake = FakeAzure((500, {}, err), (503, {}, b"<html>Service Unavailable</html>"), (500, {}, err), OK_V32)
    analyzer, sleeps = make(fake)

    result = analyzer.analyze(SMALL_PNG, "image/png")

    assert result.tags
    assert sleeps == [1.0, 2.0, 4.0]


def test_server_errors_honour_retry_after_when_longer_than_the_backoff() -> None:
    fake = FakeAzure((503, {"Retry-After": "9"}, b""), OK_V32)
    analyzer, sleeps = make(fake)

    analyzer.analyze(SMALL_PNG, "image/png")

    assert sleeps == [9.0]


def test_retry_after_as_an_http_date_is_honoured() -> None:
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=20), usegmt=True)
    fake = FakeAzure((503, {"Retry-After": when}, b""), OK_V32)
    analyzer, sleeps = make(fake)

    analyzer.analyze(SMALL_PNG, "image/png")

    assert len(sleeps) == 1
    assert 15 <= sleeps[0] <= 20


def test_server_errors_forever_are_retryable() -> None:
    fake = FakeAzure((500, {}, {"error": {"code": "Timeout", "message": "Processing timed out."}}))
    analyzer, sleeps = make(fake, max_retries=2)

    with pytest.raises(AnalysisFailed) as failed:
        analyzer.analyze(SMALL_PNG, "image/png")

    assert failed.value.retryable is True
    assert "Processing timed out." in failed.value.message
    assert len(fake.requests) == 3
    assert sleeps == [1.0, 2.0]


def test_a_timeout_is_retried() -> None:
    fake = FakeAzure(TIMEOUT, OK_V32)
    analyzer, sleeps = make(fake)

    assert analyzer.analyze(SMALL_PNG, "image/png").description
    assert sleeps == [1.0]


def test_timeouts_forever_are_retryable_and_say_so() -> None:
    fake = FakeAzure(TIMEOUT)
    analyzer, sleeps = make(fake, timeout_seconds=12.5)

    with pytest.raises(AnalysisFailed) as failed:
        analyzer.analyze(SMALL_PNG, "image/png")

    assert failed.value.retryable is True
    assert "did not answer within 12.5 s" in failed.value.message
    assert len(fake.requests) == 5
    assert fake.requests[0].extensions["timeout"]["read"] == 12.5
    assert sleeps == [1.0, 2.0, 4.0, 8.0]


def test_connection_errors_are_retried() -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        if len(calls) == 1:
            raise httpx.ConnectError("connection refused", request=request)
        return FakeAzure(OK_V32)(request)

    sleeps = Sleeps()
    client = httpx.Client(transport=httpx.MockTransport(handler))
    analyzer = AzureVisionAnalyzer(client, ENDPOINT, KEY, sleep=sleeps)

    assert analyzer.analyze(SMALL_PNG, "image/png").tags
    assert sleeps == [1.0]


# ---------------------------------------------------------------------- the key stays secret


def test_the_key_never_reaches_logs_messages_or_reprs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    fake = FakeAzure(RATE_LIMIT, TIMEOUT, (500, {}, {"error": {"code": "x", "message": f"echo {KEY}"}}))
    analyzer, _ = make(fake, max_wait_seconds=10_000, max_retries=3)

    with pytest.raises(AnalysisFailed) as failed:
        analyzer.analyze(image_bytes(1400, 1000, noise=True), "image/png")

    assert caplog.records, "the retries should have been logged"
    for record in caplog.records:
        assert KEY not in record.getMessage()
        assert KEY not in str(record.args)
    assert KEY not in str(failed.value)
    assert KEY not in repr(failed.value)
    assert KEY not in repr(analyzer)
    assert KEY not in str(vars(analyzer))
    for request in fake.requests:
        assert KEY not in str(request.url)
        assert request.headers["Ocp-Apim-Subscription-Key"] == KEY


# ---------------------------------------------------------------------- images outside Azure's limits


def test_oversize_image_is_sent_as_a_jpeg_under_4_mb_and_the_original_is_kept() -> None:
    big = image_bytes(1400, 1000, noise=True)
    assert len(big) > 4_000_000
    original = bytes(big)

    def under_limit(request: httpx.Request) -> None:
        assert len(request.content) < 4_000_000
        assert request.content[:3] == b"\xff\xd8\xff"

    fake = FakeAzure(OK_V32, check_request=under_limit)
    analyzer, _ = make(fake)

    analyzer.analyze(big, "image/png")

    sent = decoded(fake.bodies[0])
    assert sent.format == "JPEG"
    assert min(sent.size) >= 50
    assert max(sent.size) <= 16_000
    assert sent.width / sent.height == pytest.approx(1.4, rel=0.02)
    assert big == original


def test_image_analysis_40_allows_up_to_20_mb_so_the_same_image_goes_untouched() -> None:
    big = image_bytes(1400, 1000, noise=True)
    fake = FakeAzure(OK_V40)
    analyzer, _ = make(fake, api="4.0", palette=lambda data: ())

    analyzer.analyze(big, "image/png")

    assert fake.bodies == [big]


def test_reencoded_copy_is_upright_when_exif_says_the_camera_was_turned() -> None:
    exif = PILImage.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to view
    big = image_bytes(1800, 1200, "JPEG", noise=True, quality=100, exif=exif)
    assert len(big) > 4_000_000
    fake = FakeAzure(OK_V32)
    analyzer, _ = make(fake)

    analyzer.analyze(big, "image/jpeg")

    sent = decoded(fake.bodies[0])
    assert sent.height > sent.width


def test_too_wide_image_is_shrunk_under_16000_pixels() -> None:
    fake = FakeAzure(OK_V32)
    analyzer, _ = make(fake)

    analyzer.analyze(image_bytes(17_000, 120), "image/png")

    sent = decoded(fake.bodies[0])
    assert sent.width <= 16_000
    assert sent.height >= 50


def test_small_image_is_enlarged_to_50_pixels() -> None:
    fake = FakeAzure(OK_V32)
    analyzer, _ = make(fake)

    analyzer.analyze(image_bytes(30, 40), "image/png")

    assert decoded(fake.bodies[0]).size == (50, 67)


@pytest.mark.parametrize(("size", "why"), [((10, 10), "too small"), ((16_000, 40), "too long and thin")])
def test_images_that_cannot_fit_are_refused_without_calling_azure(size: tuple[int, int], why: str) -> None:
    fake = FakeAzure(OK_V32)
    analyzer, _ = make(fake)

    with pytest.raises(AnalysisFailed) as failed:
        analyzer.analyze(image_bytes(*size), "image/png")

    assert failed.value.retryable is False
    assert why in failed.value.message
    assert f"{size[0]}×{size[1]}" in failed.value.message
    assert fake.requests == []


def test_bytes_that_are_no_image_are_refused_without_calling_azure() -> None:
    fake = FakeAzure(OK_V32)
    analyzer, _ = make(fake)

    with pytest.raises(AnalysisFailed) as failed:
        analyzer.analyze(b"<svg xmlns='http://www.w3.org/2000/svg'/>", "image/png")

    assert failed.value.retryable is False
    assert fake.requests == []


def test_webp_is_converted_for_v32_but_sent_as_it_is_to_40() -> None:
    webp = image_bytes(200, 100, "WEBP")
    v32, v40 = FakeAzure(OK_V32), FakeAzure(OK_V40)

    make(v32)[0].analyze(webp, "image/webp")
    make(v40, api="4.0", palette=lambda data: ())[0].analyze(webp, "image/webp")

    assert decoded(v32.bodies[0]).format == "JPEG"
    assert v40.bodies == [webp]


# ---------------------------------------------------------------------- Image Analysis 4.0


def test_v40_maps_caption_tags_and_text_and_takes_colors_from_the_palette() -> None:
    fake = FakeAzure(OK_V40)
    seen: list[bytes] = []

    def palette(data: bytes) -> tuple[Color, ...]:
        seen.append(data)
        return (Color("#c87828", 1.0, "orange"),)

    analyzer, _ = make(fake, api="4.0", palette=palette)

    result = analyzer.analyze(SMALL_PNG, "image/png")

    (request,) = fake.requests
    assert request.url.path == "/computervision/imageanalysis:analyze"
    assert request.url.params["api-version"] == "2024-02-01"
    assert request.url.params["features"] == "caption,tags,read"
    assert result.description == "A woman wearing a mask sitting at a table with a laptop."
    assert result.tags[0].name == "furniture"
    assert result.text == "Sample text\n123 456"
    assert result.colors == (Color("#c87828", 1.0, "orange"),)
    assert seen == [SMALL_PNG]


def test_v40_takes_colors_from_the_offline_palette_when_none_is_given() -> None:
    pytest.importorskip("imagerepo.adapters.local.palette")
    analyzer, _ = make(FakeAzure(OK_V40), api="4.0")

    result = analyzer.analyze(SMALL_PNG, "image/png")  # a flat (200, 120, 40) image

    assert [(c.hex, c.name) for c in result.colors] == [("#c87828", "orange")]
    assert result.colors[0].fraction == pytest.approx(1.0)


def test_v40_in_a_region_without_captions_goes_on_without_them() -> None:
    _, _, body = payload(OK_V40)
    no_caption = {k: v for k, v in body.items() if k != "captionResult"}
    fake = FakeAzure("v4.0_error_400_NotSupportedVisualFeature.json", (200, {}, no_caption))
    analyzer, _ = make(fake, api="4.0", palette=lambda data: ())

    first = analyzer.analyze(SMALL_PNG, "image/png")
    analyzer.analyze(SMALL_PNG, "image/png")

    assert first.description == ""
    assert first.tags
    features = [r.url.params["features"] for r in fake.requests]
    assert features == ["caption,tags,read", "tags,read", "tags,read"]


@pytest.mark.parametrize("api", ["v3.2", "4.0"])
def test_a_feature_refused_for_other_reasons_fails_for_good(api: str) -> None:
    fake = FakeAzure("v4.0_error_400_NotSupportedVisualFeature.json")
    analyzer, sleeps = make(fake, api=api, palette=lambda data: ())

    with pytest.raises(AnalysisFailed) as failed:
        analyzer.analyze(SMALL_PNG, "image/png")

    assert failed.value.retryable is False
    assert "NotSupportedVisualFeature" in failed.value.message
    assert len(fake.requests) == (1 if api == "v3.2" else 2)  # 4.0 tries once more without captions
    assert sleeps == []


def test_unknown_api_is_refused_at_construction() -> None:
    with pytest.raises(ValueError, match="api"):
        AzureVisionAnalyzer(httpx.Client(), ENDPOINT, KEY, api="v2.1")


# ---------------------------------------------------------------------- rules, as properties

AZURE_NAMES = sorted({n.title() for n in AZURE_COLOR_ANCHORS})
azure_color_info = st.fixed_dictionaries(
    {
        "dominantColorBackground": st.sampled_from(AZURE_NAMES),
        "dominantColorForeground": st.sampled_from(AZURE_NAMES),
        "dominantColors": st.lists(st.sampled_from(AZURE_NAMES), max_size=4),
        "accentColor": st.one_of(st.just(""), st.from_regex(r"[0-9A-F]{6}", fullmatch=True)),
    },
    optional={"isBWImg": st.booleans(), "isBwImg": st.booleans()},
)


@given(azure_color_info)
def test_estimated_shares_sum_to_one_and_stay_searchable(info: dict[str, Any]) -> None:
    colors, kept = _azure_colors(info)

    assert colors
    assert sum(c.fraction for c in colors) == pytest.approx(1.0, abs=1e-3)
    assert all(c.fraction >= COLOR_MIN_FRACTION for c in colors)
    assert all(c.hex.startswith("#") and len(c.hex) == 7 for c in colors)
    assert all(c.name in COLOR_VOCABULARY for c in colors)
    assert [c.fraction for c in colors] == sorted((c.fraction for c in colors), reverse=True)
    assert len({c.hex for c in colors}) == len(colors)
    assert kept["background"] == info["dominantColorBackground"]


@given(st.text(max_size=80))
def test_descriptions_read_as_sentences(text: str) -> None:
    sentence = as_sentence(text)

    if not text.split():
        assert sentence == ""
        return
    assert sentence[-1] in ".!?"
    assert sentence[0] == sentence[0].upper()
    assert as_sentence(sentence) == sentence


SMALL_LIMITS = ImageLimits(
    max_bytes=12_000,
    min_side=20,
    max_side=300,
    formats=frozenset({"PNG"}),
    reencode_side=256,
    min_upscale_source=8,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.integers(1, 1200),
    st.integers(1, 1200),
    st.sampled_from(["PNG", "GIF", "BMP", "JPEG"]),
    st.booleans(),
)
def test_prepared_image_always_fits_the_limits_or_is_refused(w: int, h: int, fmt: str, noise: bool) -> None:
    data = image_bytes(w, h, fmt, noise=noise)
    limits = SMALL_LIMITS
    try:
        prepared = fit_within(data, limits)
    except InvalidImage:
        too_small = min(w, h) < limits.min_upscale_source
        too_thin = max(w, h) * limits.min_side > min(w, h) * limits.max_side
        assert too_small or too_thin
        return
    sent = decoded(prepared.data)
    assert sent.format in limits.formats or sent.format == "JPEG"
    assert len(prepared.data) < limits.max_bytes
    assert all(limits.min_side <= s <= limits.max_side for s in sent.size)
    assert sent.size == (prepared.width, prepared.height)
    if not prepared.reencoded:
        assert prepared.data == data
    # Aspect ratio kept, up to rounding of the short side.
    assert sent.width / sent.height == pytest.approx(w / h, rel=0.05, abs=1.5 / min(sent.size))



# ---------------------------------------------------------------------- through the analysis worker


class Worker:
    """The analysis service over in-memory fakes, with one stored image waiting for analysis."""

    def __init__(self, analyzer: AzureVisionAnalyzer) -> None:
        self.clock = ManualClock()
        self.images = InMemoryImageRepository()
        blobs = InMemoryBlobStore()
        image = Image(
            id="img-1", owner_id="u1", filename="a.png", content_type="image/png", width=320, height=240,
            size_bytes=len(SMALL_PNG), sha256="0" * 64, uploaded_at=self.clock.now(),
        )  # fmt: skip
        self.images.reserve(image, quota_limit=5)
        self.images.commit(image.id)
        blobs.put(image.original_key, io.BytesIO(SMALL_PNG), "image/png")
        self.service = AnalysisService(self.images, blobs, analyzer, self.clock)

    def analysis(self) -> Analysis:
        image = self.images.get("u1", "img-1")
        assert image is not None
        return image.analysis


def test_worker_records_azures_analysis() -> None:
    worker = Worker(make(FakeAzure(OK_V32))[0])

    assert worker.service.run_once()

    analysis = worker.analysis()
    assert analysis.status == AnalysisStatus.DONE
    assert analysis.analyzer == "azure"
    assert analysis.description == "A man pointing at a screen."
    assert analysis.extra["azure_colors"]["dominant"] == ["White"]


def test_worker_records_azures_refusal_as_a_failed_analysis() -> None:
    worker = Worker(make(FakeAzure("v3.2_error_400_InvalidImageFormat.json"))[0])

    worker.service.run_once()

    analysis = worker.analysis()
    assert analysis.status == AnalysisStatus.FAILED
    assert "Input data is not a valid image." in analysis.error


def test_worker_reschedules_a_rate_limited_job_no_sooner_than_azure_asked() -> None:
    fake = FakeAzure(RATE_LIMIT, OK_V32)
    worker = Worker(make(fake, max_wait_seconds=0)[0])

    worker.service.run_once()

    assert worker.analysis().status == AnalysisStatus.PENDING
    worker.clock.advance(54)
    assert not worker.service.run_once()
    worker.clock.advance(2)
    assert worker.service.run_once()
    assert worker.analysis().status == AnalysisStatus.DONE
    assert len(fake.requests) == 2
