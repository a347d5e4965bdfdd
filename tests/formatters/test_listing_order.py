"""`patchwire plugins` lists prompt formatters in the order a model's format is chosen."""

from __future__ import annotations

import subprocess
import sys

import patchwire
from patchwire.cli import plugins_report


def test_formatters_are_listed_in_the_order_tried_with_the_fallback_last() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "patchwire", "plugins"], capture_output=True, text=True, check=True
    ).stdout
    section = out.split("Prompt formatters")[1].split("Parameter mappers")[0]
    names = [line.split()[0] for line in section.splitlines()[1:] if line.startswith("  ")]
    assert names[-1] == "default" and "(fallback: models nobody claims)" in section.splitlines()[-1]
    assert names.index("chatml") < names.index("default")
    assert names.index("raw") < names.index("default")
    assert "raw                      (by name only: format='raw')" in section


def test_json_report_names_the_fallback_and_a_runtime_formatter_comes_first() -> None:
    plugins = patchwire.Plugins()

    class Acme:
        name = "acme"
        models = ("acme/*",)

        def render(self, messages: object) -> str:
            return ""

    class AcmePlugin:
        @patchwire.hookimpl
        def patchwire_formatters(self) -> list[Acme]:
            return [Acme()]

    plugins.register(AcmePlugin())
    report = plugins_report(plugins)
    names = [f["name"] for f in report["formatters"]]
    assert report["fallback_formatter"] == "default"
    assert names[0] == "acme" and names[-1] == "default"
