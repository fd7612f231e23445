"""Rekindle: an open photo-restoration backend."""

__version__ = "0.1.0"
