"""Seed 003's restoration job body."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, Field


class RestorationJobCreated(BaseModel):
    job_id: uuid.UUID
    status: str = Field(description="pending")


class RestorationJob(BaseModel):
    """Seed 003's `RestorationJob`: the photo's latest restore attempt, under the seed's names."""

    id: uuid.UUID
    job_id: uuid.UUID
    user_id: str
    status: str = Field(description="pending, processing, completed or failed")
    original_image_url: str
    processed_image_url: str | None
    denoise: float | None = Field(description="Denoise strength 0.0-1.0 of the latest attempt")
    error_message: str | None
    error_code: str | None
    created_at: datetime
    updated_at: datetime
