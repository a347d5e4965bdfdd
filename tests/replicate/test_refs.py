"""Replicate model references, the URLs they create on, the API base, and retry hints."""

from __future__ import annotations

import pytest

from patchwire import BadRequestError
from patchwire.providers.replicate.api import Backoff
from patchwire.providers.replicate.errors import retry_after
from patchwire.providers.replicate.links import normalize_base
from patchwire.providers.replicate.refs import create_target, parse_ref

HASH = "2796ee9483c3fd7aa2e171d38f4ca12251a30609463dcfd4cd76703f22e96cdf"


@pytest.mark.parametrize(
    ("raw", "path", "version", "owner", "name"),
    [
        (
            "meta/meta-llama-3-8b-instruct",
            "/v1/models/meta/meta-llama-3-8b-instruct/predictions",
            None,
            "meta",
            "meta-llama-3-8b-instruct",
        ),
        (f"meta/llama-2-70b-chat:{HASH}", "/v1/predictions", HASH, "meta", "llama-2-70b-chat"),
        (HASH, "/v1/predictions", HASH, None, None),
        (f"llama-2-70b-chat:{HASH}", "/v1/predictions", HASH, None, "llama-2-70b-chat"),
        ("custom-llm-version-id", "/v1/predictions", "custom-llm-version-id", None, None),
        (
            "deployments/ishaan-jaff/ishaan-mistral",
            "/v1/deployments/ishaan-jaff/ishaan-mistral/predictions",
            None,
            "ishaan-jaff",
            "ishaan-mistral",
        ),
    ],
)
def test_reference_forms(
    raw: str, path: str, version: str | None, owner: str | None, name: str | None
) -> None:
    ref = parse_ref(raw)
    assert (ref.provider, ref.raw, ref.owner, ref.name, ref.version) == (
        "replicate",
        raw,
        owner,
        name,
        version,
    )
    target = create_target(ref)
    assert (target.path, target.version) == (path, version)
    assert ref.deployment == raw.startswith("deployments/")


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "a/b/c",
        "deployments/x",
        "deployments/x/y:abc",
        "meta/",
        "/name",
        "meta/llama 3",
        "a:b:c",
        "own er/x",
    ],
)
def test_malformed_references_say_what_to_write(raw: str) -> None:
    with pytest.raises(BadRequestError) as info:
        parse_ref(raw)
    assert "replicate/owner/name" in str(info.value)
    assert info.value.param == "model"


def test_api_base_normalisation() -> None:
    assert normalize_base(None) == "https://api.replicate.com"
    assert normalize_base("http://127.0.0.1:5000/v1/") == "http://127.0.0.1:5000"


def test_retry_after_from_header_or_body() -> None:
    assert retry_after({"Retry-After": "3"}, None) == 3.0
    assert retry_after({}, {"retry_after": 5}) == 5.0
    assert retry_after({"Retry-After": "2"}, {"retry_after": 9}) == 2.0
    assert retry_after({}, {"detail": "x"}) is None


def test_backoff_honours_retry_after_and_caps_its_own_delays() -> None:
    backoff = Backoff(base=0.5, cap=4.0, max_attempts=10)
    assert backoff.next_delay(3.0) >= 3.0
    delays = [backoff.next_delay() for _ in range(8)]
    assert all(0 < d <= 4.0 for d in delays)
    assert not backoff.exhausted
    backoff.next_delay()
    assert backoff.exhausted
