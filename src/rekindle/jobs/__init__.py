"""Seed 004's jobs API: a job is a photo (`job.id == photo.id`), over the same services."""
