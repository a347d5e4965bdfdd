"""The simulator's model catalogue: models, versions, deployments and their Cog input schemas.

The built-in schemas are those the models published on Replicate; where a model's live schema was
never recovered, the values are the most likely defaults. Ids made by `synthetic_id` are made up but
stable.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs

HEX64 = re.compile(r"^[0-9a-f]{64}$")

_MISSING: Any = object()


def _prop(type_: str, order: int, description: str, default: Any = _MISSING, **extra: Any) -> dict[str, Any]:
    """One Cog-style input property (`title`, `x-order` as Cog writes them)."""
    prop: dict[str, Any] = {"type": type_, "x-order": order, "description": description}
    if default is not _MISSING:
        prop["default"] = default
    prop.update(extra)
    return prop


def _titled(props: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    for key, prop in props.items():
        prop.setdefault("title", key.replace("_", " ").title())
    return props


LLAMA3_TEMPLATE = (
    "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n{system_prompt}<|eot_id|>"
    "<|start_header_id|>user<|end_header_id|>\n\n{prompt}<|eot_id|>"
    "<|start_header_id|>assistant<|end_header_id|>\n\n"
)


def llama3_inputs() -> dict[str, dict[str, Any]]:
    """meta-llama-3 official models (2024 TRT-LLM stack, cog-triton predict.py)."""
    return _titled(
        {
            "prompt": _prop("string", 0, "Prompt"),
            "system_prompt": _prop("string", 1, "System prompt", "You are a helpful assistant"),
            "max_tokens": _prop("integer", 2, "Maximum number of tokens to generate", 512, minimum=1),
            "min_tokens": _prop("integer", 3, "Minimum number of tokens to generate", 0, minimum=-1),
            "temperature": _prop("number", 4, "Sampling temperature", 0.7, minimum=0, maximum=5),
            "top_p": _prop("number", 5, "Nucleus sampling", 0.95, minimum=0, maximum=1),
            "top_k": _prop("integer", 6, "Top-k sampling", 0, minimum=-1),
            "stop_sequences": _prop(
                "string", 7, "Comma-separated stop sequences", "<|end_of_text|>,<|eot_id|>"
            ),
            "length_penalty": _prop("number", 8, "Length penalty", 1, minimum=0, maximum=5),
            "presence_penalty": _prop("number", 9, "Presence penalty", 0),
            "seed": _prop("integer", 10, "Random seed; leave blank to randomize"),
            "prompt_template": _prop(
                "string",
                11,
                "Template with {prompt} and {system_prompt}",
                LLAMA3_TEMPLATE,
                minLength=1,
            ),
            "log_performance_metrics": _prop("boolean", 12, "Log performance metrics", False),
            "max_new_tokens": _prop("integer", 13, "Deprecated alias of max_tokens", minimum=1),
            "min_new_tokens": _prop("integer", 14, "Deprecated alias of min_tokens", minimum=-1),
        }
    )


def llama2_inputs() -> dict[str, dict[str, Any]]:
    """meta/llama-2-70b-chat 02e509c7… as recorded (cog 0.8.1); no prompt_template."""
    return _titled(
        {
            "prompt": _prop("string", 0, "Prompt to send to the model."),
            "system_prompt": _prop(
                "string", 1, "System prompt prepended to the prompt", "You are a helpful assistant."
            ),
            "max_new_tokens": _prop("integer", 2, "Maximum number of tokens to generate", 128, minimum=1),
            "min_new_tokens": _prop("integer", 3, "Minimum tokens; -1 disables", -1, minimum=-1),
            "temperature": _prop("number", 4, "Sampling temperature", 0.75, minimum=0.01, maximum=5),
            "top_p": _prop("number", 5, "Nucleus sampling", 0.9, minimum=0, maximum=1),
            "top_k": _prop("integer", 6, "Top-k sampling", 50, minimum=0),
            "stop_sequences": _prop("string", 7, "Comma-separated stop sequences, e.g. '<end>,<stop>'"),
            "seed": _prop("integer", 8, "Random seed; leave blank to randomize"),
            "debug": _prop("boolean", 9, "Provide debugging output in logs", False),
            "replicate_weights": _prop("string", 10, "Path to fine-tuned weights"),
        }
    )


def mistral_inputs() -> dict[str, dict[str, Any]]:
    """mistral-7b-instruct-v0.2 / mixtral-8x7b-instruct-v0.1 (likely defaults: not recovered live)."""
    return _titled(
        {
            "prompt": _prop("string", 0, "Prompt"),
            "max_new_tokens": _prop("integer", 1, "Maximum number of tokens to generate", 512, minimum=1),
            "min_new_tokens": _prop("integer", 2, "Minimum tokens; -1 disables", -1, minimum=-1),
            "temperature": _prop("number", 3, "Sampling temperature", 0.6, minimum=0, maximum=5),
            "top_p": _prop("number", 4, "Nucleus sampling", 0.9, minimum=0, maximum=1),
            "top_k": _prop("integer", 5, "Top-k sampling", 50, minimum=-1),
            "presence_penalty": _prop("number", 6, "Presence penalty", 0),
            "frequency_penalty": _prop("number", 7, "Frequency penalty", 0),
            "length_penalty": _prop("number", 8, "Length penalty", 1, minimum=0, maximum=5),
            "stop_sequences": _prop("string", 9, "Comma-separated stop sequences"),
            "seed": _prop("integer", 10, "Random seed; leave blank to randomize"),
            "prompt_template": _prop("string", 11, "Template with {prompt}", "<s>[INST] {prompt} [/INST] "),
        }
    )


def llama_template_inputs(prompt_template: str) -> dict[str, dict[str, Any]]:
    """cog-llama-template builds (mistral-7b v0.1, LLaMA-2-7B-32K): llama-2 set + template."""
    props = llama2_inputs()
    del props["replicate_weights"]
    props["repetition_penalty"] = _prop("number", 11, "Repetition penalty", 1.15, minimum=0)
    props["prompt_template"] = _prop("string", 12, "Template with {prompt}", prompt_template)
    return _titled(props)


def t5_inputs() -> dict[str, dict[str, Any]]:
    """flan-t5 family: the length knob is max_length."""
    return _titled(
        {
            "prompt": _prop("string", 0, "Prompt to send to FLAN-T5."),
            "max_length": _prop("integer", 1, "Maximum number of tokens to generate", 50, minimum=1),
            "temperature": _prop("number", 2, "Sampling temperature", 0.75, minimum=0.01, maximum=5),
            "top_p": _prop("number", 3, "Nucleus sampling", 1.0, minimum=0.01, maximum=1),
            "repetition_penalty": _prop("number", 4, "Repetition penalty", 1.0, minimum=0.01, maximum=5),
            "debug": _prop("boolean", 5, "Provide debugging output in logs", False),
        }
    )


def vicuna_inputs() -> dict[str, dict[str, Any]]:
    """replicate/vicuna-13b: max_length (the rest likely defaults: not recovered live)."""
    props = t5_inputs()
    props["prompt"]["description"] = "Prompt to send to the model."
    props["max_length"]["default"] = 500
    props["seed"] = _prop("integer", 5, "Random seed; -1 randomizes", -1, title="Seed")
    props["debug"]["x-order"] = 6
    return props


PRESETS = {
    "llama3": llama3_inputs,
    "llama2": llama2_inputs,
    "mistral": mistral_inputs,
    "t5": t5_inputs,
    "vicuna": vicuna_inputs,
}

# Cog's iterator-of-strings Output, the marker the Python client keys on
# (run._has_output_iterator_array_type).
LLM_OUTPUT_SCHEMA = {
    "type": "array",
    "items": {"type": "string"},
    "title": "Output",
    "x-cog-array-type": "iterator",
    "x-cog-array-display": "concatenate",
}

STATUS_SCHEMA = {
    "enum": ["starting", "processing", "succeeded", "canceled", "failed"],
    "type": "string",
    "title": "Status",
    "description": "An enumeration.",
}


def openapi_schema(
    inputs: Mapping[str, Any],
    required: Sequence[str],
    components: Mapping[str, Any] | None = None,
    output: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A Cog-shaped `openapi_schema`; clients read only `components.schemas`. `components` are the
    schemas inputs refer to (Cog's enums); `output` defaults to an iterator of strings."""
    input_schema = {
        "type": "object",
        "title": "Input",
        "required": list(required),
        "properties": dict(inputs),
    }
    schemas = {
        **(components or {}),
        "Input": input_schema,
        "Output": dict(output) if output is not None else LLM_OUTPUT_SCHEMA,
        "Status": STATUS_SCHEMA,
    }
    return {
        "openapi": "3.0.2",
        "info": {"title": "Cog", "version": "0.1.0"},
        "paths": {},
        "components": {"schemas": schemas},
    }


def synthetic_id(text: str, *, hidden: bool = False) -> str:
    """A stable made-up version id: 64-hex, or the `dp-<32 hex>` form official models show."""
    digest = hashlib.sha256(text.encode()).hexdigest()
    return f"dp-{digest[:32]}" if hidden else digest


@attrs.define(kw_only=True)
class ModelSpec:
    """A model the simulator serves. `inputs` is a property map or a preset name (see PRESETS).

    `versions` are newest first and may be any string (`custom-llm-version-id` too).
    An official model is runnable through `POST /v1/models/{owner}/{name}/predictions`; without
    versions it reports an opaque `hidden_version` like Replicate's official LLMs.
    `family` enables model-side quirks: "llama3" fails predictions the way cog-triton does.
    `components` are schemas the inputs refer to (`allOf: [{"$ref": "#/components/schemas/X"}]`,
    as Cog writes enums). `output` is the output schema (None: an iterator of strings; with
    `"type": "string"` the output is one string). `think`: the output starts with `<think>…</think>`,
    as a reasoning model writes it.
    """

    owner: str
    name: str
    inputs: Mapping[str, Mapping[str, Any]] | str = "llama2"
    required: Sequence[str] = ("prompt",)
    versions: Sequence[str] = ()
    official: bool = False
    hidden_version: str | None = None
    family: str = ""
    description: str = ""
    cog_version: str = "0.8.1"
    components: Mapping[str, Mapping[str, Any]] = attrs.Factory(dict)
    output: Mapping[str, Any] | None = None
    think: bool = False

    @property
    def ref(self) -> str:
        return f"{self.owner}/{self.name}"


@attrs.define(kw_only=True)
class DeploymentSpec:
    """A deployment `owner/name` that runs `model` (owner/name) at `version` (default: latest)."""

    owner: str
    name: str
    model: str
    version: str | None = None


@attrs.define(eq=False)
class Model:
    """A registered model; `schema` is shared by all its versions."""

    owner: str
    name: str
    official: bool
    versions: list[str]
    default_version: str
    family: str
    description: str
    cog_version: str
    inputs: dict[str, dict[str, Any]]
    required: tuple[str, ...]
    schema: dict[str, Any]
    components: dict[str, dict[str, Any]] = attrs.Factory(dict)
    think: bool = False
    created_at: str = "2024-04-17T21:44:00.000000Z"
    run_count: int = 0

    @property
    def ref(self) -> str:
        return f"{self.owner}/{self.name}"

    @property
    def string_output(self) -> bool:
        """Whether the output is one string (not an iterator of strings)."""
        return bool(self.schema["components"]["schemas"]["Output"].get("type") == "string")


@attrs.define(eq=False)
class Deployment:
    owner: str
    name: str
    model: Model
    version: str

    @property
    def ref(self) -> str:
        return f"{self.owner}/{self.name}"


class Catalog:
    """O(1) lookups of models (case-insensitive, like Replicate), versions and deployments."""

    def __init__(self) -> None:
        self.models: dict[str, Model] = {}
        self.versions: dict[str, Model] = {}
        self.deployments: dict[str, Deployment] = {}

    def add_model(self, spec: ModelSpec) -> Model:
        inputs = spec.inputs
        props = PRESETS[inputs]() if isinstance(inputs, str) else {k: dict(v) for k, v in inputs.items()}
        versions = list(spec.versions)
        hidden = spec.hidden_version
        if not versions and hidden is None:
            hidden = synthetic_id(f"{spec.owner}/{spec.name}", hidden=True)
        default_version = versions[0] if versions else str(hidden)
        model = Model(
            owner=spec.owner,
            name=spec.name,
            official=spec.official,
            versions=versions or [default_version],
            default_version=default_version,
            family=spec.family,
            description=spec.description or f"{spec.owner}/{spec.name} (simulated)",
            cog_version=spec.cog_version,
            inputs=props,
            required=tuple(spec.required),
            schema=openapi_schema(props, spec.required, spec.components, spec.output),
            components={k: dict(v) for k, v in spec.components.items()},
            think=spec.think,
        )
        self.models[model.ref.lower()] = model
        for version in model.versions:
            self.versions[version] = model
        return model

    def add_deployment(self, spec: DeploymentSpec) -> Deployment:
        model = self.models.get(spec.model.lower())
        if model is None:
            raise KeyError(f"deployment {spec.owner}/{spec.name}: unknown model {spec.model!r}")
        version = spec.version or model.default_version
        if version not in model.versions:
            raise KeyError(f"deployment {spec.owner}/{spec.name}: {spec.model} has no version {version}")
        deployment = Deployment(spec.owner, spec.name, model, version)
        self.deployments[deployment.ref.lower()] = deployment
        return deployment

    def model(self, owner: str, name: str) -> Model | None:
        return self.models.get(f"{owner}/{name}".lower())

    def deployment(self, owner: str, name: str) -> Deployment | None:
        return self.deployments.get(f"{owner}/{name}".lower())

    def resolve_version(self, ref: str) -> tuple[Model, str] | None:
        """`POST /v1/predictions` `version`: hash, `owner/name:hash`, or official `owner/name`."""
        if ":" in ref:
            model_ref, _, version = ref.partition(":")
            model = self.models.get(model_ref.lower())
            if model is None or version not in model.versions:
                return None
            return model, version
        found = self.versions.get(ref)
        if found is not None:
            return found, ref
        model = self.models.get(ref.lower()) if "/" in ref else None
        if model is not None and model.official:
            return model, model.default_version
        return None


def version_json(model: Model, version: str) -> dict[str, Any]:
    return {
        "id": version,
        "created_at": model.created_at,
        "cog_version": model.cog_version,
        "openapi_schema": model.schema,
    }


def model_json(model: Model) -> dict[str, Any]:
    return {
        "url": f"https://replicate.com/{model.ref}",
        "owner": model.owner,
        "name": model.name,
        "description": model.description,
        "visibility": "public",
        "github_url": None,
        "paper_url": None,
        "license_url": None,
        "run_count": model.run_count,
        "cover_image_url": None,
        "default_example": None,
        "latest_version": version_json(model, model.default_version),
        "created_at": model.created_at,
    }


def deployment_json(deployment: Deployment) -> dict[str, Any]:
    return {
        "owner": deployment.owner,
        "name": deployment.name,
        "current_release": {
            "number": 1,
            "model": deployment.model.ref,
            "version": deployment.version,
            "created_at": deployment.model.created_at,
            "created_by": {"type": "organization", "username": deployment.owner},
            "configuration": {"hardware": "gpu-a40-large", "min_instances": 0, "max_instances": 1},
        },
    }


LLAMA2_70B_VERSIONS = (
    "02e509c789964a7ea8736978a43525956ef40397be9033abf9fd2badfe68c9e3",
    "2796ee9483c3fd7aa2e171d38f4ca12251a30609463dcfd4cd76703f22e96cdf",
    "2d19859030ff705a87c746f7e96eea03aefb71f166725aee39692f1476566d48",
)
MISTRAL_V02_VERSION = "f5701ad84de5715051cb99d550539719f8a7fbcf65e0e62a3d1eb3f94720764e"


def builtin_models() -> list[ModelSpec]:
    """The models of LiteLLM's Replicate examples, with their published schemas."""
    mistral_v01_template = "<s>[INST] {prompt} [/INST]"
    return [
        ModelSpec(
            owner="meta",
            name="meta-llama-3-8b-instruct",
            inputs="llama3",
            official=True,
            hidden_version="dp-a557b7387b4940df25b23f779dc534c4",
            family="llama3",
            cog_version="0.9.9",
        ),
        ModelSpec(
            owner="meta",
            name="meta-llama-3-70b-instruct",
            inputs="llama3",
            official=True,
            hidden_version=synthetic_id("meta/meta-llama-3-70b-instruct", hidden=True),
            family="llama3",
            cog_version="0.9.9",
        ),
        ModelSpec(
            owner="meta",
            name="llama-2-70b-chat",
            inputs="llama2",
            official=True,
            versions=LLAMA2_70B_VERSIONS,
            family="llama2",
        ),
        ModelSpec(
            owner="a16z-infra",
            name="llama-2-13b-chat",
            inputs="llama2",
            family="llama2",
            versions=("2a7f981751ec7fdf87b5b91ad4db53683a98082e9ff7bfd12c8cd5ea85980a52",),
        ),
        ModelSpec(
            owner="replicate",
            name="vicuna-13b",
            inputs="vicuna",
            versions=("6282abe6a492de4145d7bb601023762212f9ddbbe78278bd6771c8b3b2f2a13b",),
        ),
        ModelSpec(
            owner="daanelson",
            name="flan-t5-large",
            inputs="t5",
            versions=("ce962b3f6792a57074a601d3979db5839697add2e4e02696b3ced4c022d4767f",),
        ),
        ModelSpec(
            owner="replicate",
            name="flan-t5-xl",
            inputs="t5",
            versions=("7a216605843d87f5426a10d2cc6940485a232336ed04d655ef86b91e020e9210",),
        ),
        ModelSpec(
            owner="mistralai",
            name="mistral-7b-instruct-v0.2",
            inputs="mistral",
            official=True,
            versions=(MISTRAL_V02_VERSION,),
            family="mistral",
        ),
        ModelSpec(
            owner="mistralai",
            name="mixtral-8x7b-instruct-v0.1",
            inputs="mistral",
            official=True,
            family="mistral",
            versions=("7b3212fbaf88310cfef07a061ce94224e82efc8403c26fc67e8f6c065de51f21",),
        ),
        ModelSpec(
            owner="mistralai",
            name="Mistral-7B-Instruct-v0.1",
            family="mistral",
            inputs=llama_template_inputs(mistral_v01_template),
            versions=("83b6a56e7c828e667f21fd596c338fd4f0039b46bcfa18d973e8e70e455fda70",),
        ),
        # Version id synthetic: no pinned version of this model was recovered.
        ModelSpec(
            owner="togethercomputer",
            name="LLaMA-2-7B-32K",
            inputs=llama_template_inputs("{prompt}"),
            versions=(synthetic_id("togethercomputer/LLaMA-2-7B-32K"),),
        ),
    ]


def builtin_deployments() -> list[DeploymentSpec]:
    return [
        DeploymentSpec(
            owner="ishaan-jaff", name="ishaan-mistral", model="mistralai/mistral-7b-instruct-v0.2"
        ),
    ]


def build_catalog(models: Iterable[ModelSpec], deployments: Iterable[DeploymentSpec]) -> Catalog:
    catalog = Catalog()
    for spec in models:
        catalog.add_model(spec)
    for dep in deployments:
        catalog.add_deployment(dep)
    return catalog
