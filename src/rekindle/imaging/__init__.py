"""Images: decoding (JPEG, PNG, HEIC/HEIF, WebP, TIFF), upload validation, thumbnails and seed 001's
preprocessing for engines."""

from rekindle.imaging.decode import ACCEPTED_FORMATS, register_heif
from rekindle.imaging.display import make_display_copy
from rekindle.imaging.preprocess import PreprocessResult, preprocess
from rekindle.imaging.thumbnails import make_thumbnail
from rekindle.imaging.validate import ImageInfo, inspect_image

__all__ = [
    "ACCEPTED_FORMATS",
    "ImageInfo",
    "PreprocessResult",
    "inspect_image",
    "make_display_copy",
    "make_thumbnail",
    "preprocess",
    "register_heif",
]
