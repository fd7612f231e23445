"""Request and response bodies of the scans API."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, Field

from rekindle.photos.schemas import PhotoOut

Corner = list[float]


class DetectedPrintOut(BaseModel):
    quad: list[Corner] = Field(
        description="Corners [[x, y] x 4] in scan pixels: top-left, top-right, bottom-right, "
        "bottom-left of the straightened print"
    )
    angle_degrees: float = Field(description="Rotation of the print's top edge, degrees")
    fill: float = Field(description="How well the detected region fills the quadrilateral, 0-1")


class ScanOut(BaseModel):
    id: uuid.UUID
    width: int = Field(description="Pixels")
    height: int = Field(description="Pixels")
    scan_url: str = Field(description="Signed download URL of the scan as uploaded")
    display_url: str = Field(
        description="Signed URL of a JPEG of the scan that any browser shows (at most 2560 px a "
        "side, the aspect of `width`×`height`), for drawing the prints over it"
    )
    prints: list[DetectedPrintOut] = Field(description="The prints detected in the scan")
    photos: list[PhotoOut] = Field(description="The photos cut from it (empty for a preview)")
    created_at: datetime


class PrintIn(BaseModel):
    quad: list[list[float]] = Field(
        min_length=4, max_length=4, description="[[x, y] x 4] in scan pixels, any corner order"
    )


class CutIn(BaseModel):
    """Body of `POST /scans/{id}/photos`: the (possibly edited) prints to cut."""

    prints: list[PrintIn] = Field(min_length=1, max_length=24)
    border: bool = Field(True, description="Keep the prints' white borders")
    album_id: uuid.UUID | None = Field(None, description="Put the new photos in this album")
