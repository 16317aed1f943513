"""imagerepo: a private image repository with encrypted storage, offline analysis and search."""

__version__ = "0.1.0"
