# ruff: noqa: F841, RUF010
# (LiteLLM's test below is copied verbatim, unused exception names and all.)
"""LiteLLM's own Replicate custom-prompt test (tests/local_testing/test_completion.py in BerriAI/litellm),
unchanged but for the import: ``litellm.set_verbose``, ``register_prompt_template``, ``completion`` with
``mock_response`` and ``num_retries=3``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import patchwire as litellm
from patchwire import completion


@pytest.fixture(autouse=True)
def _quiet_again() -> Iterator[None]:
    yield
    litellm.set_verbose = False  # the ported test turns debug output on for the whole process


# ---- copied verbatim from LiteLLM -----------------------------------------------------------------


def test_replicate_custom_prompt_dict():
    litellm.set_verbose = True
    model_name = "replicate/meta/llama-2-7b"
    litellm.register_prompt_template(
        model="replicate/meta/llama-2-7b",
        initial_prompt_value="You are a good assistant",  # [OPTIONAL]
        roles={
            "system": {
                "pre_message": "[INST] <<SYS>>\n",  # [OPTIONAL]
                "post_message": "\n<</SYS>>\n [/INST]\n",  # [OPTIONAL]
            },
            "user": {
                "pre_message": "[INST] ",  # [OPTIONAL]
                "post_message": " [/INST]",  # [OPTIONAL]
            },
            "assistant": {
                "pre_message": "\n",  # [OPTIONAL]
                "post_message": "\n",  # [OPTIONAL]
            },
        },
        final_prompt_value="Now answer as best you can:",  # [OPTIONAL]
    )
    try:
        response = completion(
            model=model_name,
            messages=[
                {
                    "role": "user",
                    "content": "what is yc write 1 paragraph",
                }
            ],
            mock_response="Hello world",
            repetition_penalty=0.1,
            num_retries=3,
        )

    except litellm.APIError as e:
        pass
    except litellm.APIConnectionError as e:
        pass
    except Exception as e:
        pytest.fail(f"An exception occurred - {str(e)}")
    print(f"response: {response}")
    litellm.custom_prompt_dict = {}  # reset


# ---- end of LiteLLM's test --------------------------------------------------------------------------


def test_the_ported_call_answers_with_the_mock() -> None:
    response = completion(
        model="replicate/meta/llama-2-7b",
        messages=[{"role": "user", "content": "what is yc write 1 paragraph"}],
        mock_response="Hello world",
        repetition_penalty=0.1,
        num_retries=3,
    )
    assert response.choices[0].message.content == "Hello world"


def test_litellm_exception_names_catch_what_they_catch_there() -> None:
    # `except litellm.APIError` catches every API error; a malformed message is one.
    with pytest.raises(litellm.APIError) as bad:
        completion(model="replicate/meta/llama-2-7b", messages=[{"role": "wizard", "content": "hi"}])
    assert isinstance(bad.value, litellm.BadRequestError)


def test_api_connection_error_is_what_an_unreachable_service_raises(unused_tcp_port: int) -> None:
    # Nothing listens on the port: the call cannot reach the service.
    with pytest.raises(litellm.APIConnectionError):
        completion(
            model="replicate/meta/llama-2-7b",
            messages=[{"role": "user", "content": "hi"}],
            api_base=f"http://127.0.0.1:{unused_tcp_port}",
            api_key="r8_test",
            num_retries=0,
            timeout=5,
        )
