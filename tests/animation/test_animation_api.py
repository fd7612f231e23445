"""Animation through the API and a real worker: a restored real photo becomes a browser-playable
preview MP4 and, on request, an HD result; credits are charged and refunded; a photo whose
restoration is running cannot be animated."""

from __future__ import annotations

import io
import struct
import time
import uuid
from typing import Any

import av
import httpx
from PIL import Image

from rekindle.db import session_scope
from rekindle.photos import service
from rekindle.photos.schemas import RestoreOptions
from tests.support.services import shared_photo
from tests.support.stack import Stack


def _top_level_boxes(mp4: bytes) -> list[str]:
    """The MP4's top-level box types in file order (ISO/IEC 14496-12)."""
    boxes, offset = [], 0
    while offset + 8 <= len(mp4):
        size, kind = struct.unpack(">I4s", mp4[offset : offset + 8])
        if size == 1:
            size = struct.unpack(">Q", mp4[offset + 8 : offset + 16])[0]
        boxes.append(kind.decode("latin-1"))
        if size < 8:
            break
        offset += size
    return boxes


def _probe(mp4: bytes) -> dict[str, Any]:
    with av.open(io.BytesIO(mp4)) as container:
        stream = container.streams.video[0]
        frames = sum(1 for _ in container.decode(stream))
        return {
            "codec": stream.codec_context.name,
            "pix_fmt": stream.codec_context.pix_fmt,
            "width": stream.codec_context.width,
            "height": stream.codec_context.height,
            "fps": float(stream.average_rate),
            "frames": frames,
        }


def _wait_animation(
    stack: Stack,
    photo_id: str,
    attempt_id: str,
    user: str,
    field: str = "status",
    timeout: float = 90,
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        response = stack.client.get(
            f"/api/v1/photos/{photo_id}/animations/{attempt_id}", headers=stack.auth(user)
        )
        body = response.json()
        if body[field] in ("completed", "failed"):
            return body  # type: ignore[no-any-return]
        time.sleep(0.2)
    raise AssertionError(f"animation {attempt_id} did not finish ({field})")


def _balance(stack: Stack, user: str) -> int:
    return int(stack.client.get("/api/v1/me", headers=stack.auth(user)).json()["credit_balance"])


def test_restored_photo_animates_to_playable_preview_and_hd(stack: Stack) -> None:
    user = f"animator-{stack.kind}"
    photo = stack.upload(shared_photo("real-old/scratch-woman-cigarette.png"), user=user)
    stack.restore(photo["id"], user=user)
    ready = stack.wait_for_photo(photo["id"], ("ready",), user=user)
    before = _balance(stack, user)

    response = stack.client.post(f"/api/v1/photos/{photo['id']}/animate", headers=stack.auth(user))
    assert response.status_code == 202, response.text
    accepted = response.json()
    assert accepted["status"] == "pending" and accepted["engine"] == "local"
    assert accepted["source_restore_id"] == ready["selected_restore_id"]
    assert _balance(stack, user) == before - stack.settings.price_animation

    done = _wait_animation(stack, photo["id"], accepted["id"], user)
    assert done["status"] == "completed", done
    preview = httpx.get(done["preview_url"]).content
    info = _probe(preview)
    assert info["codec"] == "h264" and info["pix_fmt"] == "yuv420p"
    assert min(info["width"], info["height"]) == 480
    assert abs(info["frames"] / info["fps"] - 5.0) < 0.2
    boxes = _top_level_boxes(preview)
    assert boxes.index("moov") < boxes.index("mdat")  # faststart: playable while downloading
    with Image.open(io.BytesIO(httpx.get(done["thumbnail_url"]).content)) as thumb:
        assert thumb.format == "JPEG"
    assert done["is_hd"] is False and done["result_url"] is None

    listed = stack.photo(photo["id"], user=user)["animation_attempts"]
    assert [a["id"] for a in listed] == [accepted["id"]]

    hd = stack.client.post(
        f"/api/v1/photos/{photo['id']}/animations/{accepted['id']}/hd", headers=stack.auth(user)
    )
    assert hd.status_code == 202, hd.text
    assert hd.json()["hd_status"] == "pending"
    again = stack.client.post(
        f"/api/v1/photos/{photo['id']}/animations/{accepted['id']}/hd", headers=stack.auth(user)
    )
    assert again.status_code == 409 and again.json()["error"]["code"] == "hd_exists"
    finished = _wait_animation(
        stack, photo["id"], accepted["id"], user, field="hd_status", timeout=120
    )
    assert finished["hd_status"] == "completed" and finished["is_hd"] is True
    hd_info = _probe(httpx.get(finished["result_url"]).content)
    assert max(hd_info["width"], hd_info["height"]) >= 1080
    assert hd_info["codec"] == "h264" and hd_info["pix_fmt"] == "yuv420p"
    assert _balance(stack, user) == (
        before - stack.settings.price_animation - stack.settings.price_hd
    )

    # Deleting the photo removes the animation's objects too.
    assert (
        stack.client.delete(f"/api/v1/photos/{photo['id']}", headers=stack.auth(user)).status_code
        == 204
    )
    assert not [k for k in stack.object_keys() if accepted["id"] in k]


def test_animation_while_restoring_is_409_and_charges_nothing(stack: Stack) -> None:
    user = f"busy-{stack.kind}"
    photo = stack.upload(shared_photo("real-old/bw-two-people-1919.jpg"), user=user)
    with session_scope(stack.runtime.sessions) as session:  # a restoration accepted, still running
        service.request_restore(
            session, stack.settings, user, uuid.UUID(photo["id"]), RestoreOptions()
        )
    before = _balance(stack, user)
    for path in (f"/api/v1/photos/{photo['id']}/animate", f"/api/v1/jobs/{photo['id']}/animate"):
        response = stack.client.post(path, headers=stack.auth(user))
        assert response.status_code == 409, response.text
        assert response.json()["error"]["code"] == "restore_in_progress"
    assert _balance(stack, user) == before
    assert stack.photo(photo["id"], user=user)["animation_attempts"] == []


def test_failed_animation_is_refunded_once(stack: Stack) -> None:
    user = f"refund-anim-{stack.kind}"
    photo = stack.upload(shared_photo("real-old/bw-two-people-1919.jpg"), user=user)
    before = _balance(stack, user)
    # The source disappears from storage: the worker cannot animate it.
    with stack.runtime.sessions() as session:
        from rekindle.models import Photo

        original_key = session.get(Photo, uuid.UUID(photo["id"])).original_key  # type: ignore[union-attr]
    stack.runtime.store.delete_many([original_key])
    accepted = stack.client.post(
        f"/api/v1/photos/{photo['id']}/animate", headers=stack.auth(user)
    ).json()
    done = _wait_animation(stack, photo["id"], accepted["id"], user)
    assert done["status"] == "failed"
    assert done["error"]["code"] == "storage_unavailable"
    assert done["preview_url"] is None
    assert _balance(stack, user) == before
    credits = stack.client.get("/api/v1/me/credits", headers=stack.auth(user)).json()
    refunds = [e for e in credits["items"] if e["kind"] == "refund"]
    assert len(refunds) == 1


def test_sweep_fails_a_stuck_animation_refunds_once_and_removes_its_objects(stack: Stack) -> None:
    """A worker died mid-animation after storing its preview: the sweep fails the attempt
    `timed_out`, refunds the charge exactly once, and removes the half-finished objects."""
    from datetime import timedelta

    from sqlalchemy import update

    from rekindle.animation import service as animation_service
    from rekindle.animation.runner import sweep_stuck_animations
    from rekindle.db import utcnow
    from rekindle.models import AnimationAttempt, AttemptStatus
    from rekindle.storage import keys

    user = f"stuck-anim-{stack.kind}"
    photo = stack.upload(shared_photo("real-old/bw-two-people-1919.jpg"), user=user)
    before = _balance(stack, user)
    with session_scope(stack.runtime.sessions) as session:
        attempt = animation_service.request_animation(
            session, stack.settings, user, uuid.UUID(photo["id"]), None
        )
        attempt_id = attempt.id
    assert _balance(stack, user) == before - stack.settings.price_animation
    preview_key, _ = keys.animation_keys(user, uuid.UUID(photo["id"]), attempt_id)
    thumb_key = keys.thumbnail_key(user, uuid.UUID(photo["id"]), attempt_id)
    stack.runtime.store.put(preview_key, b"half a video", "video/mp4")
    stack.runtime.store.put(thumb_key, b"half a thumbnail", "image/jpeg")
    started = utcnow() - timedelta(seconds=stack.settings.task_time_limit_seconds + 30)
    with session_scope(stack.runtime.sessions) as session:
        session.execute(
            update(AnimationAttempt)
            .where(AnimationAttempt.id == attempt_id)
            .values(status=AttemptStatus.PROCESSING, started_at=started)
        )

    sweep_stuck_animations(stack.runtime)
    sweep_stuck_animations(stack.runtime)  # (the worker's beat may sweep it too)

    swept = _wait_animation(stack, photo["id"], str(attempt_id), user)
    assert swept["status"] == "failed" and swept["error"]["code"] == "timed_out"
    assert _balance(stack, user) == before
    credits = stack.client.get("/api/v1/me/credits", headers=stack.auth(user)).json()
    assert [e["kind"] for e in credits["items"] if e["kind"] == "refund"] == ["refund"]
    assert not {preview_key, thumb_key} & stack.object_keys()
