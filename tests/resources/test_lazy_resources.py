"""A plugin that unpickles one resource's provider imports that resource's module alone."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

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


def test_a_no_op_check_and_diff_import_no_http_stack(tmp_path: Path) -> None:
    """A plugin that only checks and diffs a TrainingFile (every no-op preview) never imports the HTTP clients."""
    data = tmp_path / "train.jsonl"
    line = {"messages": [{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4"}]}
    data.write_text("".join(json.dumps(line) + "\n" for _ in range(10)))
    script = (
        "import json, sys\n"
        "from pulumi.dynamic import ConfigureRequest\n"
        "from pulumi_aoai_finetuning.resources.training_file import TrainingFileProvider\n"
        "provider = TrainingFileProvider()\n"
        "checked = provider.check({}, {'endpoint': 'https://a.openai.azure.com/', 'path': sys.argv[1]})\n"
        "assert not checked.failures, checked.failures\n"
        "assert not provider.diff('file-1', checked.inputs, checked.inputs).changes\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in ('httpx2', 'httpcore', 'h11') "
        "or m.startswith(('pulumi_aoai_finetuning.client.http', 'pulumi_aoai_finetuning.client.dataplane', "
        "'pulumi_aoai_finetuning.client.arm')))))"
    )
    env = {**os.environ, "AOAI_FT_CACHE_DIR": str(tmp_path / "cache")}
    done = subprocess.run(
        [sys.executable, "-c", script, str(data)], capture_output=True, text=True, check=True, timeout=60, env=env
    )
    assert json.loads(done.stdout) == []
