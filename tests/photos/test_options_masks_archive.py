"""Issue 13 (and issue 11's mask over the API) on both stacks: `GET /engines` with options and
prices, 422 `option_unsupported` with nothing created or charged, damage masks stored with the
attempt and given to the engine at the preprocessed size, seed 002's archive, seed 004's
`latest_animation_id`.

Attempts run in this process (`run_restore_attempt`, the worker's own code) so that the test
engines of `tests.support.engines` can serve them; no worker process is started.
"""

from __future__ import annotations

import base64
import io
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from PIL import Image

from rekindle.credits import ledger
from rekindle.db import session_scope
from rekindle.engines.base import RESTORE_OPTIONS
from rekindle.engines.registry import restoration_engine
from rekindle.imaging.mask import MAX_MASK_BYTES
from rekindle.models import RestoreAttempt
from rekindle.restoration.runner import run_restore_attempt
from rekindle.storage import keys
from rekindle.storage.orphans import remember, remove_orphaned_objects
from tests.credits.helpers import balance, small_jpeg
from tests.support.engines import ProbeEngine, registered_test_engines
from tests.support.services import postgres_database, redis_url
from tests.support.stack import Stack, running_stack, stack_settings

MAX_SIDE = 150  # the preprocessed image's longest side (photos here are 300×200)


@pytest.fixture(scope="module", params=["embedded", "production"])
def stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, s3_endpoint: str
) -> Iterator[Stack]:
    """Rekindle (API only) with `classic`, `probe` (every option) and `plain` (no option)."""
    kind = request.param
    options = {
        "rekindle_engines_allowed": "classic,probe,plain",
        "max_side_pixels": MAX_SIDE,
    }
    data_dir = tmp_path_factory.mktemp(f"i13-{kind}")
    with registered_test_engines():
        if kind == "embedded":
            with running_stack(
                stack_settings(kind, data_dir, **options), kind, worker=False
            ) as running:
                yield running
            return
        with postgres_database() as database_url:
            values = stack_settings(
                kind,
                data_dir,
                postgres_url=database_url,
                redis_url=redis_url(),
                s3_endpoint=s3_endpoint,
                **options,
            )
            with running_stack(values, kind, worker=False) as running:
                yield running


def _upload(stack: Stack, user: str) -> dict[str, Any]:
    response = stack.client.post(
        "/api/v1/photos",
        headers=stack.auth(user),
        files={"file": ("p.jpg", small_jpeg(1, size=(300, 200)), "image/jpeg")},
    )
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def _png_uri(image: Image.Image) -> str:
    out = io.BytesIO()
    image.save(out, "PNG")
    return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode()


def _line_mask(size: tuple[int, int] = (30, 20), column: int = 15) -> Image.Image:
    mask = Image.new("L", size, 0)
    for y in range(size[1]):
        mask.putpixel((column, y), 255)
    return mask


def _attempt_count(stack: Stack, photo_id: str) -> int:
    with stack.runtime.sessions() as session:
        return session.query(RestoreAttempt).filter_by(photo_id=uuid.UUID(photo_id)).count()


def _user_keys(stack: Stack, user: str) -> set[str]:
    return {key for key in stack.object_keys() if key.startswith(f"users/{user}/")}


def _restore_job(stack: Stack, photo_id: str, user: str, **body: Any) -> Any:
    return stack.client.post(
        f"/api/v1/jobs/{photo_id}/restore", headers=stack.auth(user), json=body
    )


def _run(stack: Stack, attempt_id: str) -> str:
    return run_restore_attempt(stack.runtime, uuid.UUID(attempt_id))


def test_engines_list_options_kind_default_and_price(stack: Stack) -> None:
    response = stack.client.get("/api/v1/engines", headers=stack.auth("lister"))
    assert response.status_code == 200
    listed = {(e["kind"], e["name"]): e for e in response.json()}
    settings = stack.settings
    classic = restoration_engine("classic", settings).supported_options()
    assert listed[("restore", "classic")] == {
        "name": "classic",
        "kind": "restore",
        "default": True,
        "options": [o for o in RESTORE_OPTIONS if o in classic],
        "price": settings.price_restore,
    }
    assert listed[("restore", "probe")]["options"] == list(RESTORE_OPTIONS)
    assert listed[("restore", "plain")]["options"] == []
    assert not listed[("restore", "probe")]["default"]
    assert listed[("animate", "local")] == {
        "name": "local",
        "kind": "animate",
        "default": True,
        "options": [],
        "price": settings.price_animation,
    }
    assert ("animate", "runpod") not in listed  # not configured
    assert [e["kind"] for e in response.json()][:3] == ["restore"] * 3


@pytest.mark.parametrize(
    ("body", "option"),
    [
        ({"colorize": True}, "colorize"),
        ({"prompt": "warm sepia tones"}, "prompt"),
        ({"seed": 7}, "seed"),
        ({"denoise": 0.3}, "denoise"),
        ({"mask": "MASK"}, "mask"),
    ],
)
def test_unsupported_option_is_refused_before_anything_happens(
    stack: Stack, body: dict[str, Any], option: str
) -> None:
    user = f"plain-{option}-{stack.kind}"
    photo = _upload(stack, user)
    before_keys, before_balance = _user_keys(stack, user), balance(stack, user)
    if body.get("mask") == "MASK":
        body = {"mask": _png_uri(_line_mask())}
    for route in ("photos", "jobs"):
        response = stack.client.post(
            f"/api/v1/{route}/{photo['id']}/restore",
            headers=stack.auth(user),
            json={"engine": "plain", **body},
        )
        assert response.status_code == 422, response.text
        error = response.json()["error"]
        assert error["code"] == "option_unsupported"
        assert error["option"] == option and error["engine"] == "plain"
        assert repr(option) in error["message"]
    assert balance(stack, user) == before_balance
    assert _attempt_count(stack, photo["id"]) == 0
    assert stack.photo(photo["id"], user)["status"] == "uploaded"
    assert _user_keys(stack, user) == before_keys


def test_defaults_name_no_option(stack: Stack) -> None:
    """A client that always sends the defaults (denoise 0.5, colorize false, a blank prompt, no
    seed) is served by an engine honouring nothing."""
    user = f"plain-defaults-{stack.kind}"
    photo = _upload(stack, user)
    body = {"engine": "plain", "denoise": 0.5, "colorize": False, "prompt": "  ", "seed": None}
    accepted = stack.restore(photo["id"], user=user, **body)
    assert accepted.status_code == 202, accepted.text
    assert _run(stack, accepted.json()["id"]) == "completed"


def test_classic_refuses_an_option_it_does_not_honour(stack: Stack) -> None:
    honoured = restoration_engine("classic", stack.settings).supported_options()
    unsupported = [o for o in ("colorize", "prompt", "seed") if o not in honoured]
    if not unsupported:
        pytest.skip("classic honours every option")
    value = {"colorize": True, "prompt": "restore", "seed": 3}[unsupported[0]]
    user = f"classic-refuses-{stack.kind}"
    photo = _upload(stack, user)
    response = stack.restore(photo["id"], user=user, **{unsupported[0]: value})
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "option_unsupported"
    assert balance(stack, user) == stack.settings.free_credits


def test_mask_is_stored_recorded_and_given_at_the_preprocessed_size(stack: Stack) -> None:
    user = f"masker-{stack.kind}"
    photo = _upload(stack, user)
    # 30×20, a one-pixel line at x=15; the preprocessed photo is 150×100 (5× larger).
    accepted = stack.restore(photo["id"], user=user, engine="probe", mask=_png_uri(_line_mask()))
    assert accepted.status_code == 202, accepted.text
    attempt = accepted.json()
    recorded = attempt["params"]["request"]["mask"]
    mask_key = keys.mask_key(user, uuid.UUID(photo["id"]), uuid.UUID(attempt["id"]))
    assert recorded["key"] == mask_key
    assert (recorded["width"], recorded["height"]) == (30, 20)
    assert recorded["damaged_fraction"] == pytest.approx(1 / 30, abs=1e-6)
    assert "data:" not in str(attempt["params"])  # the data URI itself is not kept in params
    assert mask_key in stack.object_keys()
    assert balance(stack, user) == stack.settings.free_credits - stack.settings.price_restore

    ProbeEngine.received.clear()
    assert _run(stack, attempt["id"]) == "completed"
    (request,) = ProbeEngine.received
    assert request.mask is not None
    with (
        Image.open(io.BytesIO(request.mask)) as given,
        Image.open(io.BytesIO(request.image)) as image,
    ):
        assert given.format == "PNG" and given.mode == "L"
        assert given.size == image.size == (150, 100)
        histogram = given.histogram()
        assert sum(histogram[1:255]) == 0 and histogram[0] and histogram[255]
        column = [given.getpixel((77, y)) for y in range(100)]
        assert column == [255] * 100
        assert given.getpixel((10, 50)) == 0

    # The mask belongs to the attempt: a sweep does not take it, deleting the photo does.
    remember(stack.runtime.sessions, [mask_key], reason="test: a record for an owned key")
    remove_orphaned_objects(stack.runtime)
    assert mask_key in stack.object_keys()
    deleted = stack.client.delete(f"/api/v1/photos/{photo['id']}", headers=stack.auth(user))
    assert deleted.status_code == 204
    assert mask_key not in stack.object_keys()


def _bad_masks() -> list[tuple[str, str]]:
    jpeg = io.BytesIO()
    Image.new("L", (8, 8)).save(jpeg, "JPEG")
    b64 = base64.b64encode
    png_header = b"\x89PNG\r\n\x1a\n"
    wide = io.BytesIO()
    Image.new("1", (20_001, 1)).save(wide, "PNG")
    return [
        ("a scratch across the face", "mask_not_data_uri"),
        ("data:image/jpeg;base64," + b64(jpeg.getvalue()).decode(), "mask_not_data_uri"),
        ("data:image/png;base64,@@not base64@@", "mask_not_data_uri"),
        ("data:image/png;base64," + b64(jpeg.getvalue()).decode(), "mask_not_png"),
        ("data:image/png;base64," + b64(png_header + b"garbage" * 20).decode(), "mask_undecodable"),
        (
            "data:image/png;base64," + b64(png_header + bytes(MAX_MASK_BYTES)).decode(),
            "mask_too_large",
        ),
        ("data:image/png;base64," + b64(wide.getvalue()).decode(), "mask_dimensions_invalid"),
    ]


def test_bad_masks_get_422_and_leave_nothing(stack: Stack) -> None:
    user = f"bad-masks-{stack.kind}"
    photo = _upload(stack, user)
    before = _user_keys(stack, user)
    for mask, code in _bad_masks():
        for route in ("photos", "jobs"):
            response = stack.client.post(
                f"/api/v1/{route}/{photo['id']}/restore",
                headers=stack.auth(user),
                json={"engine": "probe", "mask": mask},
            )
            assert response.status_code == 422, (code, response.text[:200])
            assert response.json()["error"]["code"] == code, response.text[:300]
    assert balance(stack, user) == stack.settings.free_credits
    assert _attempt_count(stack, photo["id"]) == 0
    assert stack.photo(photo["id"], user)["status"] == "uploaded"
    assert _user_keys(stack, user) == before


def test_refused_restore_with_a_mask_stores_no_mask(stack: Stack) -> None:
    user = f"broke-masker-{stack.kind}"
    photo = _upload(stack, user)
    with session_scope(stack.runtime.sessions) as session:
        ledger.charge(
            session, user, ledger.balance(session, user), reference=f"drain:{user}", reason="t"
        )
    before = _user_keys(stack, user)
    response = _restore_job(stack, photo["id"], user, engine="probe", mask=_png_uri(_line_mask()))
    assert response.status_code == 402
    assert _user_keys(stack, user) == before
    assert _attempt_count(stack, photo["id"]) == 0


def test_archive_and_unarchive(stack: Stack) -> None:
    user = f"archivist-{stack.kind}"
    fresh, restored, other = (_upload(stack, user) for _ in range(3))
    accepted = stack.restore(restored["id"], user=user, engine="probe")
    assert _run(stack, accepted.json()["id"]) == "completed"
    assert stack.photo(restored["id"], user)["status"] == "ready"

    def listing(**params: Any) -> list[str]:
        response = stack.client.get(
            "/api/v1/photos", headers=stack.auth(user), params={"limit": 100, **params}
        )
        assert response.status_code == 200, response.text
        return [item["id"] for item in response.json()["items"]]

    for photo in (fresh, restored):
        archived = stack.client.post(
            f"/api/v1/photos/{photo['id']}/archive", headers=stack.auth(user)
        )
        assert archived.status_code == 200, archived.text
        assert archived.json()["status"] == "archived"
        again = stack.client.post(f"/api/v1/photos/{photo['id']}/archive", headers=stack.auth(user))
        assert again.status_code == 200 and again.json()["status"] == "archived"
        refused = stack.restore(photo["id"], user=user, engine="probe")
        assert refused.status_code == 409
        assert refused.json()["error"]["code"] == "photo_archived"
    assert balance(stack, user) == stack.settings.free_credits - stack.settings.price_restore
    assert listing() == [other["id"]]
    assert set(listing(status="archived")) == {fresh["id"], restored["id"]}
    assert listing(status="ready") == []
    bad = stack.client.get("/api/v1/photos", headers=stack.auth(user), params={"status": "lost"})
    assert bad.status_code == 422

    for photo, was in ((fresh, "uploaded"), (restored, "ready")):
        back = stack.client.post(
            f"/api/v1/photos/{photo['id']}/unarchive", headers=stack.auth(user)
        )
        assert back.status_code == 200 and back.json()["status"] == was
    assert stack.photo(restored["id"], user)["selected_restore_id"] == accepted.json()["id"]
    assert set(listing()) == {fresh["id"], restored["id"], other["id"]}
    stranger = stack.client.post(
        f"/api/v1/photos/{other['id']}/archive", headers=stack.auth("someone-else")
    )
    assert stranger.status_code == 404


def test_archive_refused_while_processing_and_delete_works_in_every_status(stack: Stack) -> None:
    user = f"deleter-{stack.kind}"
    processing, archived = _upload(stack, user), _upload(stack, user)
    assert stack.restore(processing["id"], user=user, engine="probe").status_code == 202
    refused = stack.client.post(
        f"/api/v1/photos/{processing['id']}/archive", headers=stack.auth(user)
    )
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "restore_in_progress"
    assert (
        stack.client.post(
            f"/api/v1/photos/{archived['id']}/archive", headers=stack.auth(user)
        ).json()["status"]
        == "archived"
    )
    for photo in (processing, archived):
        deleted = stack.client.delete(f"/api/v1/photos/{photo['id']}", headers=stack.auth(user))
        assert deleted.status_code == 204
        gone = stack.client.get(f"/api/v1/photos/{photo['id']}", headers=stack.auth(user))
        assert gone.status_code == 404
    assert _user_keys(stack, user) == set()


def test_job_carries_latest_animation_id(stack: Stack) -> None:
    user = f"animator-{stack.kind}"
    photo = _upload(stack, user)
    job = stack.client.get(f"/api/v1/jobs/{photo['id']}", headers=stack.auth(user)).json()
    assert job["latest_animation_id"] is None
    for _ in range(2):
        animated = stack.client.post(
            f"/api/v1/jobs/{photo['id']}/animate", headers=stack.auth(user)
        )
        assert animated.status_code == 202, animated.text
        job = stack.client.get(f"/api/v1/jobs/{photo['id']}", headers=stack.auth(user)).json()
        assert job["latest_animation_id"] == animated.json()["id"]
