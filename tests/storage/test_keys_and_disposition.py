"""Storage keys never take a `/` or `..` from a token's subject, and download headers carry a
client's file name safely (RFC 6266 / RFC 8187), on the local store and on S3 (moto over HTTP)."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest
from werkzeug.http import parse_options_header

from rekindle.storage import keys
from rekindle.storage.disposition import ascii_fallback, content_disposition
from rekindle.storage.local import LocalStore
from tests.support.services import s3_store

HOSTILE_SUBJECTS = ["victim/../attacker", "..", ".", "a/b", "../../etc", "x\\..\\y", "é/ü", ""]


@pytest.mark.parametrize("subject", HOSTILE_SUBJECTS)
def test_hostile_subjects_stay_in_one_segment_of_their_own(subject: str) -> None:
    photo, attempt = uuid.uuid4(), uuid.uuid4()
    segment = keys.owner_segment(subject)
    assert "/" not in segment and "\\" not in segment and ".." not in segment
    assert segment not in ("", ".", "..")
    for key in [
        keys.original_key(subject, photo, "jpg"),
        keys.restored_key(subject, photo, attempt),
        keys.thumbnail_key(subject, photo, attempt),
        keys.provider_input_key(subject, photo, attempt),
        *keys.animation_keys(subject, photo, attempt),
        *keys.photo_prefixes(subject, photo),
    ]:
        assert key.startswith(keys.user_prefix(subject))
        assert key.split("/")[1] == segment
        assert ".." not in key.split("/")
        assert keys.photo_id_of(key) in (photo, None)


def test_ordinary_subjects_keep_their_keys_and_encodings_never_collide() -> None:
    for subject in ["auth0|65f0c2a1b3", "google-oauth2|1234567890", str(uuid.uuid4()), "alice"]:
        assert keys.owner_segment(subject) == subject
    segments = {keys.owner_segment(s) for s in [*HOSTILE_SUBJECTS, "victim", "attacker"]}
    assert len(segments) == len(HOSTILE_SUBJECTS) + 2


def test_a_traversing_subject_cannot_write_into_another_users_prefix(tmp_path: Path) -> None:
    store = LocalStore(tmp_path, secret=b"k" * 32, ttl_seconds=60)
    photo = uuid.uuid4()
    store.put(keys.original_key("victim/../attacker", photo, "jpg"), b"x", "image/jpeg")
    assert store.list_keys(keys.user_prefix("attacker")) == []
    assert not (tmp_path / "users" / "attacker").exists()


EVIL = "x\";filename*=UTF-8''evil.html;.jpg"


@pytest.mark.parametrize(
    ("filename", "fallback"),
    [
        (EVIL, "x_filename_UTF-8_evil.html_.jpg"),
        ("tab\x0bvertical\r\nnew.jpg", "tabverticalnew.jpg"),
        ("Grand-mère à Nîmes.jpg", "Grand-mere a Nimes.jpg"),
        ("照片.png", "download.png"),
        ("plain-name_1.jpg", "plain-name_1.jpg"),
    ],
)
def test_content_disposition_round_trips_through_a_parser(filename: str, fallback: str) -> None:
    value = content_disposition(filename)
    assert not any(ord(c) < 0x20 or ord(c) == 0x7F for c in value)
    assert value.isascii()
    kind, options = parse_options_header(value)
    assert kind == "attachment"
    expected = filename.replace("\x0b", "").replace("\r", "").replace("\n", "")
    assert options["filename"] == expected  # werkzeug prefers filename* as RFC 6266 says
    plain = value.split("; filename*=")[0]  # what a client without RFC 8187 reads
    assert parse_options_header(plain)[1] == {"filename": fallback}
    assert ascii_fallback(filename) == fallback


def test_s3_download_header_names_the_real_file(s3_endpoint: str) -> None:
    bucket = f"disposition-{uuid.uuid4().hex[:8]}"
    store = s3_store(s3_endpoint, bucket)
    store.client.create_bucket(Bucket=bucket)
    key = keys.original_key("alice", uuid.uuid4(), "jpg")
    store.put(key, b"\xff\xd8 not really a jpeg", "image/jpeg")
    for filename in [EVIL, "tab\x0bname.jpg"]:
        url = store.download_url(key, base_url="http://unused", filename=filename)
        response = httpx.get(url)
        assert response.status_code == 200, response.text
        header = response.headers["content-disposition"]
        _, options = parse_options_header(header)
        assert options["filename"] == filename.replace("\x0b", "")
