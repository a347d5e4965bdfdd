"""The shaping rules on schemas patchwire has never seen, written here in Cog's own OpenAPI form.

Each test builds a model's schema (as Replicate publishes it), runs a call through the installed
plugins' shapers and mappers, and checks the inputs that would be sent.
"""

from __future__ import annotations

import base64
from typing import Any

import pytest

import patchwire
from patchwire.codec import structure_messages
from patchwire.pipeline import build_pipeline
from patchwire.providers.replicate.schema import input_schema_from_openapi
from patchwire.shaping import build_inputs
from patchwire.types import ChatRequest, InputSchema
from patchwire.validation import check_params

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
PNG_URL = "data:image/png;base64," + base64.b64encode(PNG).decode()
HTTPS = "https://example.com/cat.png"

S = {"type": "string"}
URI = {"type": "string", "format": "uri"}
URIS = {"type": "array", "items": {"type": "string", "format": "uri"}}


def schema(props: dict[str, Any], required: tuple[str, ...] = (), **components: Any) -> InputSchema:
    openapi = {
        "components": {
            "schemas": {
                "Input": {"type": "object", "properties": props, "required": list(required)},
                **components,
            }
        }
    }
    found = input_schema_from_openapi(openapi)
    assert found is not None
    return found


def send(model: str, inputs: InputSchema | None, messages: list[Any], **params: Any) -> dict[str, Any]:
    drop = params.pop("drop_params", False)
    pipeline = build_pipeline(
        patchwire.get_plugins(), f"replicate/{model}", requested_format=params.pop("format", None)
    )
    request = ChatRequest(
        model=f"replicate/{model}",
        ref=pipeline.ref,
        messages=structure_messages(messages),
        params=check_params(params, drop_params=drop),
        drop_params=drop,
    )
    return build_inputs(pipeline, request, inputs)


SYSTEM_AND_TWO_TURNS = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "Hi"},
    {"role": "assistant", "content": "Hello!"},
    {"role": "system", "content": "Answer in French."},
    {
        "role": "user",
        "content": [{"type": "text", "text": "Capital of "}, {"type": "text", "text": "France?"}],
    },
]


def image_message(*urls: str, text: str = "What is this?") -> dict[str, Any]:
    parts: list[dict[str, Any]] = [{"type": "text", "text": text}]
    parts += [{"type": "image_url", "image_url": {"url": url}} for url in urls]
    return {"role": "user", "content": parts}


# -- the conversation ---------------------------------------------------------------------------


def test_messages_input_takes_the_conversation_natively() -> None:
    shape = schema(
        {"prompt": S, "system_prompt": S, "messages": {"type": "array", "items": {"type": "object"}}}
    )
    assert send("acme/chat-1", shape, SYSTEM_AND_TWO_TURNS) == {
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello!"},
            {"role": "system", "content": "Answer in French."},
            {"role": "user", "content": "Capital of France?"},
        ]
    }


def test_system_input_takes_system_messages_and_prompt_the_rest() -> None:
    shape = schema({"prompt": S, "system_instruction": S, "max_output_tokens": {"type": "integer"}})
    inputs = send("acme/chat-2", shape, SYSTEM_AND_TWO_TURNS)
    assert inputs == {
        "system_instruction": "Be brief.\n\nAnswer in French.",
        "prompt": "User: Hi\n\nAssistant: Hello!\n\nUser: Capital of France?\n\nAssistant:",
    }


def test_lone_user_message_is_sent_as_written() -> None:
    shape = schema({"prompt": S, "system_prompt": {**S, "default": "You are helpful."}})
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "  Hi\n"}]
    assert send("acme/chat-3", shape, messages) == {"system_prompt": "Be brief.", "prompt": "  Hi\n"}


def test_model_default_system_prompt_stays_without_a_system_message() -> None:
    shape = schema({"prompt": S, "system_prompt": {**S, "default": "You are helpful."}})
    assert send("acme/chat-3", shape, [{"role": "user", "content": "Hi"}]) == {"prompt": "Hi"}


def test_prompt_only_model_keeps_the_system_text() -> None:
    shape = schema({"prompt": S, "max_tokens": {"type": "integer"}})
    inputs = send("acme/chat-4", shape, SYSTEM_AND_TWO_TURNS[:2])
    assert inputs == {"prompt": "Be brief.\n\nUser: Hi\n\nAssistant:"}


def test_only_a_system_message_stays_in_the_prompt() -> None:
    shape = schema({"prompt": S, "system_prompt": S})
    assert send("acme/chat-5", shape, [{"role": "system", "content": "Be brief."}]) == {
        "prompt": "Be brief.\n\nAssistant:"
    }


def test_chat_format_model_keeps_todays_prompt() -> None:
    # A model a chat format claims: its prompt holds the system text, the model's template is bypassed.
    shape = schema({"prompt": S, "system_prompt": S, "prompt_template": S})
    inputs = send("acme/llama-3-70b-instruct", shape, SYSTEM_AND_TWO_TURNS[:2])
    assert set(inputs) == {"prompt", "prompt_template"}
    assert inputs["prompt_template"] == "{prompt}"
    assert "Be brief." in inputs["prompt"]


def test_chosen_format_wins_over_a_messages_input() -> None:
    shape = schema({"prompt": S, "messages": {"type": "array"}})
    inputs = send("acme/chat-6", shape, [{"role": "user", "content": "Hi"}], format="chatml")
    assert inputs == {"prompt": "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"}


def test_system_parameter_and_system_message_conflict() -> None:
    shape = schema({"prompt": S, "system_prompt": S})
    with pytest.raises(patchwire.BadRequestError, match="system_prompt"):
        send("acme/chat-7", shape, SYSTEM_AND_TWO_TURNS[:2], system_prompt="Other")


def test_unknown_schema_keeps_todays_prompt() -> None:
    assert send("acme/chat-8", None, SYSTEM_AND_TWO_TURNS[:2]) == {
        "prompt": "Be brief.\n\nUser: Hi\n\nAssistant:"
    }


# -- images -------------------------------------------------------------------------------------


def test_one_image_input_gets_the_url() -> None:
    shape = schema({"prompt": S, "image": URI})
    assert send("acme/vision-1", shape, [image_message(HTTPS)]) == {"image": HTTPS, "prompt": "What is this?"}


def test_image_array_gets_every_image_and_messages_keep_the_text() -> None:
    shape = schema({"messages": {"type": "array"}, "image_input": {**URIS, "default": []}})
    inputs = send("acme/vision-2", shape, [image_message(HTTPS, PNG_URL)])
    assert inputs == {
        "image_input": [HTTPS, PNG_URL],
        "messages": [{"role": "user", "content": "What is this?"}],
    }


def test_image_named_otherwise_is_found_and_lookalikes_are_not() -> None:
    shape = schema(
        {
            "prompt": S,
            "max_image_resolution": {"type": "number"},
            "image_detail": {"type": "string", "enum": ["low", "high"]},
            "videos": URIS,
            "reference_images": {**URIS, "maxItems": 2},
        }
    )
    inputs = send("acme/vision-3", shape, [image_message(HTTPS, HTTPS)])
    assert inputs == {"reference_images": [HTTPS, HTTPS], "prompt": "What is this?"}
    with pytest.raises(
        patchwire.BadRequestError, match=r"up to 2 images \(input 'reference_images'\).*has 3"
    ):
        send("acme/vision-3", shape, [image_message(HTTPS, HTTPS, HTTPS)])


def test_too_many_images_for_a_single_input() -> None:
    shape = schema({"prompt": S, "image": URI})
    with pytest.raises(
        patchwire.BadRequestError, match=r"replicate/acme/vision-4 takes one image \(input 'image'\)"
    ):
        send("acme/vision-4", shape, [image_message(HTTPS, HTTPS)])


def test_image_to_a_text_model_names_what_it_takes() -> None:
    shape = schema({"prompt": S, "max_tokens": {"type": "integer"}})
    with pytest.raises(patchwire.BadRequestError, match=r"acme/text-1 takes no images.*prompt, max_tokens"):
        send("acme/text-1", shape, [image_message(HTTPS)])


def test_required_image_missing() -> None:
    shape = schema({"prompt": S, "image": URI}, required=("image",))
    with pytest.raises(patchwire.BadRequestError, match="requires an image"):
        send("acme/vision-5", shape, [{"role": "user", "content": "Hi"}])
    # Given as the model's own parameter, it is the caller's to send.
    assert send("acme/vision-5", shape, [{"role": "user", "content": "Hi"}], image=HTTPS) == {
        "prompt": "Hi",
        "image": HTTPS,
    }


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("data:text/plain;base64,aGVsbG8=", "not an image"),
        ("data:image/png;base64,aGVsbG8=", "not an image patchwire recognizes"),
        ("data:image/png;base64,###", "not valid base64"),
        ("data:image/png,rawbytes", "cannot read"),
        ("http://example.com/cat.png", "https URL"),
        ("file:///etc/passwd", "https URL"),
        ("https://", "https URL"),
    ],
)
def test_bad_image_urls(url: str, problem: str) -> None:
    shape = schema({"prompt": S, "image": URI})
    with pytest.raises(patchwire.BadRequestError, match=problem):
        send("acme/vision-6", shape, [image_message(url)])


def test_unknown_schema_refuses_images_with_advice() -> None:
    with pytest.raises(patchwire.BadRequestError, match="image="):
        send("acme/vision-7", None, [image_message(HTTPS)])


# -- token limits and reasoning -----------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["max_tokens", "max_completion_tokens", "max_new_tokens", "max_output_tokens", "max_length"]
)
def test_token_limit_reaches_the_models_name(name: str) -> None:
    shape = schema({"prompt": S, name: {"type": "integer", "minimum": 16, "maximum": 4096}})
    for param in ("max_tokens", "max_completion_tokens"):
        assert send("acme/len-1", shape, [{"role": "user", "content": "Hi"}], **{param: 100}) == {
            "prompt": "Hi",
            name: 100,
        }
    with pytest.raises(patchwire.BadRequestError, match=r"must be >= 16 and <= 4096"):
        send("acme/len-1", shape, [{"role": "user", "content": "Hi"}], max_completion_tokens=8)


def enum_schema(name: str, values: list[str]) -> InputSchema:
    # Cog writes enums as allOf/$ref into components.schemas.
    return schema(
        {"prompt": S, name: {"allOf": [{"$ref": f"#/components/schemas/{name}"}], "default": values[0]}},
        **{name: {"title": name, "enum": values, "type": "string"}},
    )


@pytest.mark.parametrize(
    ("name", "values", "effort", "sent"),
    [
        ("reasoning_effort", ["minimal", "low", "medium", "high"], "medium", "medium"),
        ("reasoning_effort", ["minimal", "low", "medium", "high"], "xhigh", "high"),
        ("reasoning_effort", ["low", "medium", "high"], "minimal", "low"),
        ("reasoning_effort", ["none", "low", "medium", "high", "xhigh"], "none", "none"),
        ("thinking_level", ["low", "high"], "medium", "high"),
        ("thinking_level", ["low", "high"], "none", "low"),
        ("effort", ["low", "medium", "high"], "high", "high"),
        ("thinking", ["disabled", "enabled"], "low", "enabled"),
        ("thinking", ["disabled", "enabled"], "none", "disabled"),
    ],
)
def test_reasoning_level(name: str, values: list[str], effort: str, sent: str) -> None:
    inputs = send(
        "acme/think-1",
        enum_schema(name, values),
        [{"role": "user", "content": "Hi"}],
        reasoning_effort=effort,
    )
    assert inputs == {"prompt": "Hi", name: sent}


def test_reasoning_switch_and_budget() -> None:
    shape = schema(
        {
            "prompt": S,
            "extended_thinking": {"type": "boolean", "default": False},
            "thinking_budget_tokens": {"type": "integer", "minimum": 1024, "maximum": 64000},
        }
    )
    hi = [{"role": "user", "content": "Hi"}]
    assert send("acme/think-2", shape, hi, reasoning_effort="high") == {
        "prompt": "Hi",
        "extended_thinking": True,
        "thinking_budget_tokens": 4096,
    }
    assert send("acme/think-2", shape, hi, reasoning_effort="minimal")["thinking_budget_tokens"] == 1024
    assert send("acme/think-2", shape, hi, reasoning_effort="none") == {
        "prompt": "Hi",
        "extended_thinking": False,
    }


def test_reasoning_budget_alone() -> None:
    shape = schema({"prompt": S, "thinking_budget": {"type": "integer", "minimum": 0, "maximum": 2000}})
    hi = [{"role": "user", "content": "Hi"}]
    assert send("acme/think-3", shape, hi, reasoning_effort="none")["thinking_budget"] == 0
    assert send("acme/think-3", shape, hi, reasoning_effort="high")["thinking_budget"] == 2000


def test_unknown_reasoning_value_and_model_without_control() -> None:
    hi = [{"role": "user", "content": "Hi"}]
    with pytest.raises(patchwire.BadRequestError, match="not a reasoning effort"):
        send("acme/think-4", enum_schema("reasoning_effort", ["low", "high"]), hi, reasoning_effort="extreme")
    with pytest.raises(patchwire.BadRequestError, match="not a reasoning effort"):
        send("acme/think-4", None, hi, reasoning_effort="extreme")
    text_only = schema({"prompt": S})
    with pytest.raises(patchwire.BadRequestError, match="has no reasoning control"):
        send("acme/think-5", text_only, hi, reasoning_effort="low")
    assert send("acme/think-5", text_only, hi, reasoning_effort="low", drop_params=True) == {"prompt": "Hi"}


def test_model_specific_reasoning_value_passes() -> None:
    hi = [{"role": "user", "content": "Hi"}]
    shape = enum_schema("reasoning_effort", ["auto", "low", "high"])
    assert send("acme/think-6", shape, hi, reasoning_effort="auto")["reasoning_effort"] == "auto"


# -- a third party adds a family ----------------------------------------------------------------


class HistoryShaper:
    """A family the built-ins do not know: ``question`` plus ``history`` (a list of earlier turns)."""

    name = "acme_history"
    order = 150  # before the built-in conversation shapers (200, 300)

    def shape(self, call: patchwire.ShapeCall) -> None:
        if call.placed or call.schema is None or "history" not in call.schema:
            return
        *earlier, last = call.messages
        call.inputs["history"] = [f"{m.role}: {m.text}" for m in earlier]
        call.inputs["question"] = last.text
        call.placed = True


class HistoryPlugin:
    @patchwire.hookimpl
    def patchwire_input_shapers(self) -> list[HistoryShaper]:
        return [HistoryShaper()]


def test_a_third_party_shaper_adds_a_family() -> None:
    plugins = patchwire.Plugins()
    plugins.register(HistoryPlugin(), name="acme-history")
    shape = schema(
        {"question": S, "history": {"type": "array", "items": S}, "system_prompt": S, "image": URI}
    )
    pipeline = build_pipeline(plugins, "replicate/acme/history-1")
    names = [s.name for s in pipeline.shapers]
    assert names.index("images") < names.index("acme_history") < names.index("messages")
    request = ChatRequest(
        model="replicate/acme/history-1",
        ref=pipeline.ref,
        messages=structure_messages([*SYSTEM_AND_TWO_TURNS[:3], image_message(HTTPS)]),
        params={},
    )
    # The built-in image shaper still puts the image where the schema says; the new family the text.
    assert build_inputs(pipeline, request, shape) == {
        "image": HTTPS,
        "history": ["system: Be brief.", "user: Hi", "assistant: Hello!"],
        "question": "What is this?",
    }
