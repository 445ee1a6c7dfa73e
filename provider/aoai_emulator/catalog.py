"""What the emulated service knows without being told: api-versions, base models, SKUs and limits."""

from __future__ import annotations

from dataclasses import dataclass

# Dated data-plane (authoring) api-versions, GA and preview: the versions of Azure's REST specs
# (github.com/Azure/azure-rest-api-specs, specification/cognitiveservices/data-plane/AzureOpenAI/authoring).
DATED_GA_VERSIONS = ("2022-12-01", "2023-05-15", "2024-02-01", "2024-06-01", "2024-10-21")
DATED_PREVIEW_VERSIONS = (
    "2023-10-01-preview",
    "2024-02-15-preview",
    "2024-03-01-preview",
    "2024-04-01-preview",
    "2024-05-01-preview",
    "2024-07-01-preview",
    "2024-08-01-preview",
    "2024-09-01-preview",
    "2024-10-01-preview",
    "2024-12-01-preview",
    "2025-01-01-preview",
    "2025-02-01-preview",
    "2025-03-01-preview",
    "2025-04-01-preview",
)
DATED_VERSIONS = frozenset(DATED_GA_VERSIONS + DATED_PREVIEW_VERSIONS)
# Pause and resume exist in 2025-04-01-preview and not in GA 2024-10-21.
PAUSE_RESUME_VERSIONS = frozenset({"2025-04-01-preview"})
# The Evals API (``/evals``) is in 2025-04-01-preview, not in GA 2024-10-21.
EVALS_VERSIONS = frozenset({"2025-04-01-preview"})
V1_VERSIONS = frozenset({"v1", "preview"})

ARM_VERSIONS = (
    "2017-04-18",
    "2021-04-30",
    "2021-10-01",
    "2022-03-01",
    "2022-10-01",
    "2022-12-01",
    "2023-05-01",
    "2023-10-01-preview",
    "2024-04-01-preview",
    "2024-06-01-preview",
    "2024-10-01",
    "2025-04-01-preview",
    "2025-06-01",
    "2025-07-01-preview",
    "2025-09-01",
    "2025-10-01-preview",
    "2025-12-01",
    "2026-01-15-preview",
    "2026-03-01",
    "2026-03-15-preview",
    "2026-05-01",
    "2026-05-15-preview",
    "2026-07-01",
)
ARM_RESOURCE_GROUP_VERSIONS = ("2021-04-01", "2022-09-01", "2023-07-01", "2024-03-01", "2024-07-01", "2024-11-01")


@dataclass(frozen=True)
class BaseModel:
    """A base model the emulated account offers, and how it can be fine-tuned."""

    name: str
    formats: frozenset[str]  # dataset formats its supervised fine-tuning accepts
    methods: frozenset[str]  # supervised, dpo, reinforcement
    global_training: bool = False


_CHAT = frozenset({"chat"})
_SFT_DPO = frozenset({"supervised", "dpo"})
BASE_MODELS: dict[str, BaseModel] = {
    m.name: m
    for m in (
        BaseModel("gpt-4o-mini-2024-07-18", _CHAT, _SFT_DPO, global_training=True),
        BaseModel("gpt-4o-2024-08-06", _CHAT, _SFT_DPO, global_training=True),
        BaseModel("gpt-4.1-2025-04-14", _CHAT, _SFT_DPO, global_training=True),
        BaseModel("gpt-4.1-mini-2025-04-14", _CHAT, _SFT_DPO, global_training=True),
        BaseModel("gpt-4.1-nano-2025-04-14", _CHAT, _SFT_DPO, global_training=True),
        BaseModel("gpt-35-turbo-0125", _CHAT, frozenset({"supervised"})),
        BaseModel("gpt-35-turbo-1106", _CHAT, frozenset({"supervised"})),
        BaseModel("o4-mini-2025-04-16", _CHAT, frozenset({"reinforcement"}), global_training=True),
        BaseModel("babbage-002", frozenset({"completion"}), frozenset({"supervised"})),
        BaseModel("davinci-002", frozenset({"completion"}), frozenset({"supervised"})),
    )
}
# Inference-only models an account can deploy but not fine-tune.
INFERENCE_ONLY_MODELS = frozenset(
    {"gpt-4o", "gpt-4o-mini", "gpt-4.1", "text-embedding-3-small", "text-embedding-ada-002"}
)

# Azure documents "standard", "globalstandard" and "developerTier" (compared case-insensitively, as the docs
# themselves mix cases); "developer" is not documented and is refused: the stricter reading (README, emulator).
TRAINING_TYPES = frozenset({"standard", "globalstandard", "developertier"})
UPLOAD_PURPOSES = frozenset({"fine-tune", "assistants", "batch", "evals"})
SKU_NAMES = {
    s.lower(): s
    for s in (
        "Standard",
        "GlobalStandard",
        "DataZoneStandard",
        "ProvisionedManaged",
        "GlobalProvisionedManaged",
        "DataZoneProvisionedManaged",
        "GlobalBatch",
        "DataZoneBatch",
        "DeveloperTier",
        "Developer",
    )
}
DEVELOPER_SKUS = frozenset({"developertier", "developer"})


@dataclass(frozen=True)
class Limits:
    """Per-account limits of the service (learn.microsoft.com/azure/ai-foundry/openai/quotas-limits)."""

    max_file_bytes: int = 512 * 1024 * 1024
    max_files: int = 50
    min_examples: int = 10
    max_running_jobs: int = 1
    max_queued_jobs: int = 20
    max_jobs: int = 100
    max_finetuned_deployments: int = 5
    idle_deployment_seconds: float = 15 * 24 * 3600
    developer_deployment_seconds: float = 24 * 3600


@dataclass(frozen=True)
class Timings:
    """How long each long-running step takes, in emulator seconds (the ``time`` and ``manual`` clocks)."""

    file_processing: float = 5.0
    job_validation: float = 30.0
    job_training: float = 1200.0
    job_pausing: float = 10.0
    job_resuming: float = 10.0
    copy: float = 60.0
    account_provisioning: float = 10.0
    deployment_provisioning: float = 30.0
    deletion: float = 5.0
    eval_run_queued: float = 10.0
    eval_run: float = 60.0

    def with_overrides(self, overrides: dict[str, float]) -> Timings:
        """A copy with some durations changed; unknown names are an error."""
        known = set(self.__dataclass_fields__)
        unknown = set(overrides) - known
        if unknown:
            raise ValueError(f"unknown timing(s) {sorted(unknown)}; known: {sorted(known)}")
        values = {name: float(getattr(self, name)) for name in known}
        values.update({k: float(v) for k, v in overrides.items()})
        return Timings(**values)


def root_base_model(model: str) -> str:
    """The base model under a fine-tuned model or checkpoint name (``base.ft-hex[:ckpt-step-N]``)."""
    return model.split(":ckpt-step-", maxsplit=1)[0].split(".ft-", maxsplit=1)[0]
