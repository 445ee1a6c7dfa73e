"""A plugin that unpickles one resource's provider imports that resource's module alone."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from pulumi_aoai_finetuning import resources

OTHERS = {"checkpoint_copy", "deployment", "fine_tuning_job"}


def test_a_training_file_provider_loads_no_other_resource_module() -> None:
    """What the plugin imports to unpickle a TrainingFile's provider leaves the three other resources unloaded."""
    script = (
        "import json, sys\n"
        "from pulumi_aoai_finetuning.resources.training_file import TrainingFileProvider\n"
        "print(json.dumps(sorted(m.rsplit('.', 1)[-1] for m in sys.modules "
        "if m.startswith('pulumi_aoai_finetuning.resources.'))))"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60)
    loaded = set(json.loads(done.stdout))
    assert "training_file" in loaded
    assert not loaded & OTHERS


def test_every_name_resolves_from_its_module_and_unknown_names_raise() -> None:
    """``from pulumi_aoai_finetuning.resources import X`` still gives every public name, from X's own module."""
    for name in resources.__all__:
        value = getattr(resources, name)
        assert value.__name__ == name
        assert value.__module__.startswith("pulumi_aoai_finetuning.resources.")
    with pytest.raises(AttributeError, match="TrainingFiles"):
        resources.TrainingFiles  # noqa: B018
