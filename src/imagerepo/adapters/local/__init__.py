"""The offline `local` analyzer: decode once, then colors, tags, faces, text and a description."""

from imagerepo.adapters.local.analyzer import LocalImageAnalyzer

__all__ = ["LocalImageAnalyzer"]
