"""The OpenAI-compatible proxy: ``patchwire serve --config config.yaml``.

Programmatic use (tests, benchmarks, embedding)::

    from patchwire.proxy import load_config, serve_app

    async with serve_app(load_config("config.yaml"), host="127.0.0.1", port=0) as url:
        client = openai.AsyncOpenAI(base_url=f"{url}/v1", api_key="sk-1234")
"""

from patchwire.proxy.app import create_app, serve_app
from patchwire.proxy.config import ProxyConfig, load_config, parse_config, parse_config_text

__all__ = ["ProxyConfig", "create_app", "load_config", "parse_config", "parse_config_text", "serve_app"]
