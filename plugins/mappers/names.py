"""Which input name a model uses for a family of parameters that mean the same thing.

With the model's schema the answer is the first family member the schema has. Without one it comes
from the model's name (``NAME_RULES``, first match wins), which is a guess, so the schema is preferred.
"""

from __future__ import annotations

import fnmatch
import functools
from collections.abc import Sequence

from patchwire import InputSchema, ModelRef

#: The longest output, by preference: the newest name first (Llama 3's schema has both max_tokens
#: and the deprecated max_new_tokens; it must get max_tokens).
MAX_TOKENS = (
    "max_tokens",
    "max_completion_tokens",
    "max_new_tokens",
    "max_output_tokens",
    "max_length",
    "max_length_tokens",
)
#: The shortest output.
MIN_TOKENS = ("min_tokens", "min_new_tokens")
FAMILIES = (MAX_TOKENS, MIN_TOKENS)

#: Without a schema: (patterns on owner/name, max-length name, min-length name or None to leave it).
NAME_RULES: tuple[tuple[tuple[str, ...], str, str | None], ...] = (
    (("*flan*", "*vicuna*", "*t5-*"), "max_length", None),
    (("*llama-3*", "*llama3*"), "max_tokens", "min_tokens"),
    (("*llama-2*", "*codellama*", "*mistral*", "*mixtral*"), "max_new_tokens", "min_new_tokens"),
)
#: Without a schema and no rule matching: the name most Replicate LLMs accept.
FALLBACK_MAX = "max_new_tokens"


@functools.lru_cache(maxsize=4096)
def matches(ref: ModelRef, patterns: Sequence[str]) -> bool:
    # Cached: without a schema this runs on every call, and fnmatch is the costliest step there.
    names = {ref.slug.lower(), ref.raw.lower()}
    return any(fnmatch.fnmatchcase(n, p) for n in names for p in patterns)


def family_name(
    family: Sequence[str], ref: ModelRef, schema: InputSchema | None, *, fallback: bool = True
) -> str | None:
    """The name this model takes for ``family``; None if it has none (or, without a schema, if no
    rule says). ``fallback=False`` answers None rather than guess for a model no rule knows."""
    if schema is not None:
        return next((name for name in family if name in schema), None)
    for patterns, max_name, min_name in NAME_RULES:
        if matches(ref, patterns):
            return max_name if family == MAX_TOKENS else min_name
    return FALLBACK_MAX if fallback and family == MAX_TOKENS else None


def family_of(name: str) -> tuple[str, ...] | None:
    return next((family for family in FAMILIES if name in family), None)
