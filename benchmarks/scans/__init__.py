"""Scan splitting: synthetic album scans with known print corners, and the splitting benchmark."""
