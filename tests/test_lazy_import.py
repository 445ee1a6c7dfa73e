"""The package imports its resources (and with them the Pulumi SDK) only when a program uses one."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import pulumi_aoai_finetuning


def _loaded_after(statement: str) -> set[str]:
    """The modules a fresh interpreter has loaded after running ``statement``."""
    script = f"import json, sys\n{statement}\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60)
    return set(json.loads(done.stdout))


def test_importing_the_package_does_not_import_pulumi() -> None:
    """``import pulumi_aoai_finetuning`` loads neither the Pulumi SDK nor a resource module."""
    loaded = _loaded_after("import pulumi_aoai_finetuning")
    assert "pulumi_aoai_finetuning" in loaded
    assert "pulumi" not in loaded
    assert not {m for m in loaded if m.startswith("pulumi_aoai_finetuning.resources")}


def test_a_resource_name_imports_its_module_on_first_use() -> None:
    """``from pulumi_aoai_finetuning import FineTuningJob`` still works, and then loads the SDK."""
    loaded = _loaded_after("from pulumi_aoai_finetuning import FineTuningJob")
    assert {"pulumi", "pulumi_aoai_finetuning.resources.fine_tuning_job"} <= loaded


def test_every_public_name_resolves_and_unknown_names_raise() -> None:
    """``__all__`` lists what ``from ... import *`` and ``dir()`` give; a typo is an AttributeError."""
    for name in pulumi_aoai_finetuning.__all__:
        value = getattr(pulumi_aoai_finetuning, name)
        assert value.__name__ == name
        assert value.__module__.startswith("pulumi_aoai_finetuning.resources.")
    assert set(pulumi_aoai_finetuning.__all__) <= set(dir(pulumi_aoai_finetuning))
    with pytest.raises(AttributeError, match="FineTunningJob"):
        _ = pulumi_aoai_finetuning.FineTunningJob  # type: ignore[attr-defined]


def test_the_aoai_ft_command_does_not_import_pulumi() -> None:
    """``aoai-ft`` starts without loading the Pulumi SDK (it needs none of it)."""
    loaded = _loaded_after("import pulumi_aoai_finetuning.cli.main")
    assert "pulumi_aoai_finetuning.cli.main" in loaded
    assert "pulumi" not in loaded
