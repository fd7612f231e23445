"""Celery tasks are registered under seed 004's names, and under their former names so that
messages queued by an older release are still run after an upgrade."""

from __future__ import annotations

from pathlib import Path

from rekindle.config import Settings
from rekindle.queue import (
    ANIMATE_TASK,
    CLEANUP_TASK,
    HD_TASK,
    LEGACY_TASK_NAMES,
    RESTORE_TASK,
    create_celery,
)

SEED_004_TASKS = {
    "process_restoration",
    "process_animation",
    "generate_hd_result",
    "cleanup_job_s3_files",
}


def test_tasks_carry_the_seed_names(tmp_path: Path) -> None:
    assert {RESTORE_TASK, ANIMATE_TASK, HD_TASK, CLEANUP_TASK} == SEED_004_TASKS
    app = create_celery(Settings(_env_file=None, rekindle_data_dir=str(tmp_path)))  # type: ignore[call-arg]
    app.loader.import_default_modules()
    registered = set(app.tasks)
    assert registered >= SEED_004_TASKS
    assert registered >= set(LEGACY_TASK_NAMES)
    for old, new in LEGACY_TASK_NAMES.items():
        # The old name runs the same body as the seed's name.
        assert app.tasks[old].__doc__ and "before the seed" in app.tasks[old].__doc__
        assert new in SEED_004_TASKS
