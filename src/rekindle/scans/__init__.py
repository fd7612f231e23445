"""Scans of several prints: upload, detect, adjust, cut into photos."""
