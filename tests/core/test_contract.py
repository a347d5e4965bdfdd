"""The plugin contract: a malformed plugin object is reported by plugin and distribution, and a call that
needs what it lacks raises PluginError naming the plugin, never AttributeError."""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fakes import Formatter
from support import install_distribution

import patchwire
from patchwire import PluginError
from patchwire.cli import main, plugins_report
from patchwire.testing import RecordingProvider, plugin, registered

HI = [{"role": "user", "content": "hi"}]

# A third-party distribution whose objects each lack one thing the contract requires.
MALFORMED = """
import patchwire

class NoRender:
    name = "norender"
    models = ("acme/*",)

class NoStream:
    name = "nostream"
    def parse_model(self, raw):
        owner, _, name = raw.partition("/")
        return patchwire.ModelRef(provider="nostream", raw=raw, owner=owner, name=name)
    async def input_schema(self, ref, context):
        return None
    async def complete(self, call):
        return patchwire.ChatResponse(
            id="x", created=0, model="m",
            choices=(patchwire.Choice(0, patchwire.Message("assistant", call.inputs["prompt"])),),
        )

class NoOrder:
    name = "noorder"
    providers = ("scoped",)
    def map(self, call):
        pass

@patchwire.hookimpl
def patchwire_formatters():
    return [NoRender()]

@patchwire.hookimpl
def patchwire_providers():
    return [NoStream()]

@patchwire.hookimpl
def patchwire_param_mappers():
    return [NoOrder()]
"""


@pytest.fixture
def acme(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[patchwire.Plugins]:
    """The installed plugins plus the malformed distribution ``acme-broken`` 1.2.3 (entry point
    ``acme``), laid out as pip would install it."""
    install_distribution(tmp_path, "acme_broken", "acme_broken_plugin", MALFORMED, "acme")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("PATCHWIRE_PLUGINS", "acme")  # only this entry point: the problems are its own
    yield patchwire.Plugins()
    sys.modules.pop("acme_broken_plugin", None)


def test_patchwire_plugins_reports_each_problem_with_plugin_and_distribution(
    acme: patchwire.Plugins,
) -> None:
    problems = {(p["subject"], p["problem"]) for p in plugins_report(acme)["problems"]}
    assert problems == {
        ("formatter 'norender'", "has no 'render' (it must be a method)"),
        ("provider 'nostream'", "has no 'stream' (it must be a method)"),
        ("mapper 'noorder'", "has no 'order' (it must be an integer)"),
    }
    for p in plugins_report(acme)["problems"]:
        assert (p["plugin"], p["distribution"]) == ("acme_broken:acme", "acme_broken")


def test_patchwire_plugins_command_prints_the_problems(
    acme: patchwire.Plugins, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import patchwire.manager

    monkeypatch.setattr(patchwire.manager, "_default", acme)
    assert main(["plugins"]) == 0
    out = capsys.readouterr().out
    assert "Contract problems" in out
    assert "formatter 'norender' from plugin 'acme_broken:acme' (acme_broken): has no 'render'" in out


async def test_a_call_through_a_formatter_without_render_names_the_plugin(
    acme: patchwire.Plugins, caplog: pytest.LogCaptureFixture
) -> None:
    with registered(plugin(providers=[RecordingProvider()]), into=acme), caplog.at_level(logging.WARNING):
        async with patchwire.Router(plugins=acme) as router:
            with pytest.raises(PluginError) as info:
                await router.acompletion("fake/acme/chat", HI)
    error = info.value
    assert (error.plugin, error.distribution) == ("acme_broken:acme", "acme_broken")
    assert "formatter 'norender' from plugin 'acme_broken:acme' (distribution acme_broken 1.2.3)" in str(
        error
    )
    assert "PATCHWIRE_DISABLE_PLUGINS=acme" in str(error)
    assert error.status_code == 500
    # Building the pipeline reported it in the log too, once.
    logged = [r.getMessage() for r in caplog.records if "norender" in r.getMessage()]
    assert len(logged) == 1 and "acme_broken" in logged[0]


async def test_a_provider_without_stream_completes_but_refuses_to_stream_by_name(
    acme: patchwire.Plugins,
) -> None:
    with registered(plugin(formatters=[Formatter("plain", ["*"])]), into=acme):
        async with patchwire.Router(plugins=acme) as router:
            response = await router.acompletion("nostream/acme/chat", HI, format="plain")
            assert response.choices[0].message.content == "hi"
            with pytest.raises(PluginError, match=r"provider 'nostream' from plugin 'acme_broken:acme'"):
                await router.acompletion("nostream/acme/chat", HI, format="plain", stream=True)


async def test_a_mapper_without_order_fails_the_calls_it_serves_by_name(acme: patchwire.Plugins) -> None:
    scoped, other = RecordingProvider("scoped"), RecordingProvider("other")
    with registered(plugin(providers=[scoped, other], formatters=[Formatter("plain", ["*"])]), into=acme):
        async with patchwire.Router(plugins=acme) as router:
            with pytest.raises(PluginError, match=r"mapper 'noorder' from plugin 'acme_broken:acme'"):
                await router.acompletion("scoped/acme/chat", HI, format="plain")
            # It declares the provider it serves; other providers' calls never meet it.
            await router.acompletion("other/acme/chat", HI, format="plain")
    assert scoped.calls == [] and len(other.calls) == 1


@pytest.mark.parametrize(
    ("obj", "problem"),
    [
        (
            Formatter("as-string", "acme/*"),
            "has models='acme/*', which is not a list of model patterns (strings)",
        ),
        (Formatter("", ["*"]), "has name='', which is not a non-empty string"),
    ],
)
def test_wrong_types_are_problems_too(obj: Any, problem: str) -> None:
    with registered(plugin(formatters=[obj])) as plugins:
        problems = [p["problem"] for p in plugins_report(plugins)["problems"]]
    assert problems == [problem]


async def test_a_formatter_whose_render_returns_no_string_is_named() -> None:
    class Bytes:
        name = "bytes"
        models = ("*",)

        def render(self, messages: Any) -> Any:
            return b"prompt"

    with registered(plugin(providers=[RecordingProvider()], formatters=[Bytes()])) as plugins:
        async with patchwire.Router(plugins=plugins) as router:
            with pytest.raises(PluginError, match=r"render\(\) returned bytes, not the prompt string"):
                await router.acompletion("fake/acme/chat", HI, format="bytes")


async def test_a_hook_that_raises_is_reported_and_the_others_still_answer() -> None:
    class Raising:
        @patchwire.hookimpl
        def patchwire_formatters(self) -> list[Any]:
            raise RuntimeError("boom")

    provider = RecordingProvider()
    with registered(
        Raising(), plugin(providers=[provider], formatters=[Formatter("plain", ["*"])])
    ) as plugins:
        (problem,) = plugins_report(plugins)["problems"]
        assert problem["problem"] == "raised RuntimeError: 'boom'"
        async with patchwire.Router(plugins=plugins) as router:
            await router.acompletion("fake/acme/chat", HI)
    assert provider.prompts == ["hi"]


def test_optional_attributes_have_documented_defaults() -> None:
    from patchwire.interfaces import OPTIONAL, serves, uses_model_template, wants_prompt

    bare = object()
    assert wants_prompt(bare) is OPTIONAL["provider"]["wants_prompt"] is True  # type: ignore[arg-type]
    assert uses_model_template(bare) is OPTIONAL["formatter"]["uses_model_template"] is False  # type: ignore[arg-type]
    assert serves(bare, "anything") and OPTIONAL["mapper"]["providers"] == ()  # type: ignore[arg-type]


def test_importing_the_core_imports_no_provider_or_plugin() -> None:
    code = textwrap.dedent(
        """
        import sys
        import patchwire, patchwire.testing, patchwire.proxy
        loaded = [m for m in sys.modules if m.startswith(("patchwire.providers", "patchwire.plugins"))]
        print(loaded)
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
