"""An analyzer for the process-isolation tests, built inside a child process by its class.

What it does is chosen by the image bytes: ``hang`` never returns, ``crash`` ends the process,
``fail`` and ``boom`` raise; anything else is described with the pid and niceness it ran at.
``hang:<path>`` creates the file first, so a test can wait until the stage is really running.
The preview's sha256 (None without one) comes back in ``extra["preview"]``.
With a ``control`` directory, every image hangs while a file named ``hang`` is in it.
"""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

from imagerepo.domain.errors import AnalysisFailed
from imagerepo.domain.images import AnalysisResult, Color, Tag


class ScriptedAnalyzer:
    name = "scripted"

    def __init__(self, control: Path | None = None) -> None:
        self.control = control

    def analyze(self, data: bytes, content_type: str, preview: bytes | None = None) -> AnalysisResult:
        if self.control is not None and (self.control / "hang").exists():
            threading.Event().wait()
        if data.startswith(b"hang"):
            if data.startswith(b"hang:"):
                Path(data[5:].decode()).touch()
            threading.Event().wait()
        if data == b"crash":
            os._exit(3)
        if data == b"fail":
            raise AnalysisFailed("the model is rate limited", retryable=True, retry_after=7.0)
        if data == b"boom":
            raise RuntimeError("weights are corrupt")
        return AnalysisResult(
            analyzer=self.name,
            description=f"{len(data)} bytes of {content_type}",
            tags=(Tag("thing", 0.5),),
            colors=(Color("#112233", 1.0, "blue"),),
            extra={
                "pid": os.getpid(), "nice": os.nice(0),
                "preview": None if preview is None else hashlib.sha256(preview).hexdigest(),
            },
        )
