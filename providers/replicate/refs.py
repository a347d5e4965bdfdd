"""Replicate model references: the text after ``replicate/`` and the create request it stands for.

Accepted forms (``ModelRef`` fields in brackets):

- ``owner/name``                  official model endpoint  [owner, name]
- ``owner/name:<version>``        a pinned version          [owner, name, version]
- ``<version>``                   a bare version id          [version]; a 64-hex hash, or any single
                                  segment such as LiteLLM's example ``custom-llm-version-id``
- ``name:<version>``              short ids as LiteLLM's docs write them (``llama-2-70b-chat:2796ee…``):
                                  created by version, exactly like a bare ``<version>``; ``name`` is only
                                  a label (formatters match on it): Replicate needs no owner to run a version
- ``deployments/owner/name``      a deployment              [owner, name, deployment=True]

Version creates send the bare version id, as the official Python client does.
"""

from __future__ import annotations

import re

import attrs

from patchwire.errors import BadRequestError
from patchwire.types import ModelRef
from patchwire.validation import show

PROVIDER = "replicate"

# Replicate owner and model names: letters, digits, '-', '_', '.'; version ids: the same set.
_SEGMENT = r"[A-Za-z0-9][A-Za-z0-9._-]*"
# Matched with fullmatch: "$" would also accept a trailing newline ("owner\n").
_SEGMENT_RE = re.compile(_SEGMENT)
HEX64 = re.compile(r"[0-9a-f]{64}")

_EXAMPLES = (
    "use 'replicate/owner/name' (e.g. 'replicate/meta/meta-llama-3-8b-instruct'), "
    "'replicate/owner/name:<version>', 'replicate/<version>' or 'replicate/deployments/owner/name'"
)


def _bad(raw: str, why: str) -> BadRequestError:
    return BadRequestError(
        f"model 'replicate/{raw}' is not a Replicate reference: {why}; {_EXAMPLES}", param="model"
    )


def _check(raw: str, value: str, what: str) -> str:
    if not _SEGMENT_RE.fullmatch(value):
        raise _bad(raw, f"{what} {show(value)} must be letters, digits, '-', '_' or '.'")
    return value


def parse_ref(raw: str) -> ModelRef:
    """The reference after ``replicate/`` as a ModelRef; ``BadRequestError`` if it is malformed."""
    if not raw.isprintable():
        raise _bad(show(raw)[1:-1], "it holds a control character (a line break, NUL, ...)")
    text = raw.strip()
    if not text:
        raise _bad(raw, "it is empty")
    parts = text.split("/")
    if parts[0] == "deployments":
        if len(parts) != 3:
            raise _bad(raw, "a deployment is 'deployments/owner/name'")
        if ":" in parts[2]:
            raise _bad(raw, "a deployment runs its own version; drop ':<version>'")
        owner = _check(raw, parts[1], "owner")
        name = _check(raw, parts[2], "deployment name")
        return ModelRef(provider=PROVIDER, raw=text, owner=owner, name=name, deployment=True)
    if len(parts) == 1:
        label, sep, version = text.partition(":")
        if not sep:
            return ModelRef(provider=PROVIDER, raw=text, version=_check(raw, text, "version"))
        _check(raw, label, "model name")
        return ModelRef(provider=PROVIDER, raw=text, name=label, version=_check(raw, version, "version"))
    if len(parts) == 2:
        owner = _check(raw, parts[0], "owner")
        name, sep, version = parts[1].partition(":")
        _check(raw, name, "model name")
        if sep:
            return ModelRef(
                provider=PROVIDER, raw=text, owner=owner, name=name, version=_check(raw, version, "version")
            )
        return ModelRef(provider=PROVIDER, raw=text, owner=owner, name=name)
    raise _bad(raw, "too many '/' segments")


@attrs.frozen(slots=True)
class CreateTarget:
    """Where a reference's predictions are created: the path under the API base, and the body's
    ``version`` (only for ``POST /v1/predictions``)."""

    path: str
    version: str | None
    #: What the API's list endpoint shows for a prediction made here (for finding a lost create).
    model: str | None
    deployment: str | None


def create_target(ref: ModelRef) -> CreateTarget:
    if ref.deployment:
        slug = f"{ref.owner}/{ref.name}"
        return CreateTarget(f"/v1/deployments/{slug}/predictions", None, None, slug)
    if ref.version is not None:
        model = f"{ref.owner}/{ref.name}" if ref.owner else None
        return CreateTarget("/v1/predictions", ref.version, model, None)
    slug = f"{ref.owner}/{ref.name}"
    return CreateTarget(f"/v1/models/{slug}/predictions", None, slug, None)
