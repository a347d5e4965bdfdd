"""A faithful local simulator of Replicate's HTTP API for language models.

Run it as a server (``--help`` lists every option; a bad value is a usage error)::

    patchwire fake-replicate --port 5000 --latency 0.05 --tokens 16 --fault-429 0.1 --seed 0
    python -m patchwire.providers.replicate.simulator --port 5000 --version custom-llm-version-id

or inside your own async tests (real HTTP on loopback, no network needed)::

    from patchwire.providers.replicate.simulator import Faults, ReplicateSimulator, SimulatorConfig

    async def test_my_code():
        sim = ReplicateSimulator(SimulatorConfig(latency=0.01, tokens=8))
        async with sim.serve() as base_url:          # "http://127.0.0.1:<free port>"
            answer = await my_code(api_base=base_url, api_key="r8_test")
        (prediction,) = sim.predictions.values()
        assert prediction.input["prompt"].endswith("Hello")   # exactly what reached "Replicate"
        assert sim.running() == 0                            # nothing left running (or paid for)

Any non-empty token is accepted (`Authorization: Bearer <t>` or `Token <t>`) unless
`api_keys={"..."}` is set. The official `replicate` client works against it too:
`replicate.Client(api_token="r8_test", base_url=base_url).run("meta/meta-llama-3-8b-instruct", ...)`.

What it speaks: the three create endpoints (official model, version,
deployment) with schema validation (422 `Input validation failed`), `Prefer: wait[=N]`,
`Cancel-After`, get/cancel/list predictions, models and versions with Cog OpenAPI schemas (the
built-in models and every model of `models.json`, see `published.py`), the Files API
(`POST`/`GET /v1/files`, `GET`/`DELETE /v1/files/{id}`, signed
`GET /v1/files/{id}/download` links from `sim.download_url(url)`), `/v1/account`, and an SSE stream per
prediction (`urls.stream`, `Last-Event-ID` resume). A model whose output schema is one string
answers with one string; a reasoning model that thinks inline starts with `<think>…</think>`.
Predictions advance on their own clock: `latency` (+ `cold_boot` for a model's first prediction)
in `starting`, then one output chunk every `token_interval` s in `processing`, then `succeeded`.
Output is deterministic per input: chunks with leading spaces, an occasional multi-line chunk and
a final "" like llama-3. At most `tokens` chunks, fewer if the input asks (`max_tokens`,
`max_new_tokens` or `max_length`).

Faults are drawn per request from a random generator seeded by `Faults.seed` (same seed,
same faults), or forced for the next matching requests::

    sim = ReplicateSimulator(SimulatorConfig(faults=Faults(
        rate_429=0.1, rate_5xx=0.05, rate_drop=0.02, retry_after=0, seed=1, routes={"create", "get"})))
    sim.inject_fault("429", route="create", times=2)  # the next two creates are throttled
    sim.inject_fault("drop_after_create")  # next create: prediction made, answer never sent
    sim.inject_fault("cut_stream")         # next stream: closed after >= 1 output, before done
    sim.inject_fault("fail")               # next prediction ends "failed" with an error

Kinds: `429` (with `Retry-After` and `retry_after`), `5xx`, `drop` (connection closed, nothing
done), `drop_after_create`, `cut_stream`, `hang` (never answers), and `fail`; input
`"__fail__": "message"` also fails a prediction. Route kinds: create, get, cancel, list, stream,
model, version, account, deployment, files. Every injected fault is counted in `sim.stats.faults`.

Your own models (versions may be any string; `schema_inputs` a preset name or Cog properties)::

    sim.add_model("acme", "my-llm", schema_inputs="llama2", versions=["custom-llm-version-id"])
    inputs = {"prompt": {"type": "string"}, "max_tokens": {"type": "integer", "minimum": 1}}
    sim.add_model("acme", "chat", official=True, schema_inputs=inputs)
    sim.add_deployment("acme", "prod", model="acme/my-llm")

Inspect afterwards: `sim.predictions` (id -> `Prediction` with `.input`, `.model`, `.version`,
`.deployment`, `.status()`, `.stream`, `.headers`, `.unknown_inputs`), `sim.requests` (recent
requests without their Authorization header), `sim.stats` (counters, faults by kind) and
`sim.running()`. Timing fields of `sim.config` (`latency`, `cold_boot`, `tokens`,
`token_interval`, `sync_status`, `min_cancel_after`) may be changed while it runs; they apply to
predictions created afterwards. Status `aborted` (a `Cancel-After` deadline passed before the
prediction started) is real API behaviour that replicate-python 1.0.7 cannot parse.
"""

from __future__ import annotations

from .catalog import DeploymentSpec, ModelSpec
from .cli import add_arguments, config_from_args, main, run_forever
from .faults import FAULT_KINDS, ROUTE_KINDS, Faults, SimStats
from .http import RequestRecord
from .limits import RateLimits
from .predictions import Prediction
from .server import ReplicateSimulator, SimulatorConfig
from .store import PredictionStore

__all__ = [
    "FAULT_KINDS",
    "ROUTE_KINDS",
    "DeploymentSpec",
    "Faults",
    "ModelSpec",
    "Prediction",
    "PredictionStore",
    "RateLimits",
    "ReplicateSimulator",
    "RequestRecord",
    "SimStats",
    "SimulatorConfig",
    "add_arguments",
    "config_from_args",
    "main",
    "run_forever",
]
