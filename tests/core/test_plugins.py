"""Plugin discovery through real entry points of installed distributions."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fakes import FakeProvider, Plugin
from support import install_distribution

import patchwire
from patchwire.cli import main, plugins_report

GOOD = """
import patchwire

class F:
    name = "acme-format"
    models = ("acme/*",)
    def render(self, messages):
        return "third-party:" + "|".join(m.text for m in messages)

@patchwire.hookimpl
def patchwire_formatters():
    return [F()]
"""

BROKEN = "raise ImportError('this plugin is broken on purpose')\n"


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    install_distribution(tmp_path, "acme_patchwire", "acme_patchwire_plugin", GOOD, "acme")
    install_distribution(tmp_path, "broken_patchwire", "broken_patchwire_plugin", BROKEN, "broken")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for name in ("acme_patchwire_plugin", "broken_patchwire_plugin"):
        sys.modules.pop(name, None)


def fake_provider_plugin() -> Plugin:
    return Plugin(providers=[FakeProvider()])


async def test_third_party_entry_point_loads_and_beats_built_ins(site: Path) -> None:
    plugins = patchwire.Plugins()
    infos = {info.name: info for info in plugins.infos()}
    acme = infos["acme_patchwire:acme"]
    assert (acme.distribution, acme.version, acme.kind) == ("acme_patchwire", "1.2.3", "third-party")
    assert acme.hooks == ("patchwire_formatters",)
    plugins.register(fake_provider_plugin(), "fake")
    async with patchwire.Router(plugins=plugins) as router:
        response = await router.acompletion("fake/acme/chat", [{"role": "user", "content": "hi"}])
    assert response.choices[0].message.content == "third-party:hi"


async def test_run_time_registration_beats_third_party(site: Path) -> None:
    from fakes import Formatter

    plugins = patchwire.Plugins()
    plugins.register(
        Plugin(providers=[FakeProvider()], formatters=[Formatter("mine", ["acme/*"], "mine:{text}")])
    )
    async with patchwire.Router(plugins=plugins) as router:
        response = await router.acompletion("fake/acme/chat", [{"role": "user", "content": "hi"}])
    assert response.choices[0].message.content == "mine:hi"


def test_broken_plugin_is_reported_with_its_distribution_and_not_fatal(
    site: Path, caplog: pytest.LogCaptureFixture
) -> None:
    plugins = patchwire.Plugins()
    (failure,) = [f for f in plugins.failures if f.name == "broken"]
    assert failure.distribution == "broken_patchwire" and failure.version == "1.2.3"
    assert "this plugin is broken on purpose" in failure.error
    assert "acme_patchwire:acme" in {info.name for info in plugins.infos()}
    assert "broken_patchwire" in caplog.text
    report = plugins_report(plugins)
    assert {"name": "acme-format", "models": ["acme/*"]} in report["formatters"]
    assert report["failures"][-1]["distribution"] == "broken_patchwire"


def test_environment_limits_which_plugins_load(site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATCHWIRE_PLUGINS", "acme")
    plugins = patchwire.Plugins()
    assert [i.name for i in plugins.infos() if i.kind != "core"] == ["acme_patchwire:acme"]
    assert plugins.failures == []
    monkeypatch.delenv("PATCHWIRE_PLUGINS")
    monkeypatch.setenv("PATCHWIRE_DISABLE_PLUGINS", "broken")
    assert all(f.name != "broken" for f in patchwire.Plugins().failures)


def test_plugins_command_lists_hooks_and_json(
    site: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import orjson

    import patchwire.manager

    monkeypatch.setattr(patchwire.manager, "_default", None)
    assert main(["plugins", "--json"]) == 0
    report = orjson.loads(capsys.readouterr().out)
    acme = next(p for p in report["plugins"] if p["name"] == "acme_patchwire:acme")
    assert acme["hooks"] == ["patchwire_formatters"] and acme["distribution"] == "acme_patchwire"
    assert main(["plugins"]) == 0
    text = capsys.readouterr().out
    assert "acme_patchwire 1.2.3 [third-party]" in text and "acme-format" in text
    assert "broken from broken_patchwire 1.2.3" in text
