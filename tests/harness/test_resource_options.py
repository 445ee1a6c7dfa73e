"""Resource options as the engine applies them to dynamic resources, each run against the real plugin.

Each test extends the tiny program (a group, an account, a training file and a job) with what it needs and
drives it through the harness against a served emulator; the emulator's request log and objects say what
really happened.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from pulumi_aoai_finetuning.testing.options import OptionError, apply_ignore_changes, property_path
from pulumi_aoai_finetuning.testing.program import HarnessError
from tests.test_program_harness import TINY, Stack

FILE_TYPE = "pulumi-python:dynamic/azure-openai:TrainingFile"


def extend(stack: Stack, tmp_path: Path, code: str) -> Path:
    """The tiny program with ``code`` appended (it may use ``endpoint``, ``training``, ``job``).

    Beside train.jsonl it gets other.jsonl and third.jsonl: the same examples in other orders, so other bytes
    (a file with train.jsonl's bytes would be adopted, not uploaded).
    """
    program = tmp_path / "program"
    if not program.exists():
        shutil.copytree(TINY, program)
        lines = (TINY / "train.jsonl").read_text().splitlines()
        (program / "other.jsonl").write_text("\n".join(reversed(lines)) + "\n")  # same examples, other bytes
        (program / "third.jsonl").write_text("\n".join(lines[1:] + lines[:1]) + "\n")
    main = program / "__main__.py"
    main.write_text((TINY / "__main__.py").read_text() + code)
    stack.program = program
    return main


def files(stack: Stack) -> dict[str, dict[str, object]]:
    """The account's uploaded training files (results files left out)."""
    (account,) = stack.accounts()
    held = stack.objects_of(account["name"], "files")
    return {k: v for k, v in held.items() if v["purpose"] == "fine-tune"}


def record(stack: Stack, name: str) -> dict[str, object]:
    """A resource's record in the state file, by logical name."""
    return next(r for r in stack.resources() if r["urn"].rsplit("::", 1)[1] == name)


def raw_resource(stack: Stack, name: str) -> dict[str, object]:
    """A resource as the state file holds it (deployment v3)."""
    resources = json.loads(stack.state.read_text())["deployment"]["resources"]
    return next(r for r in resources if r["urn"].rsplit("::", 1)[1] == name)


def test_depends_on_orders_creates_and_deletes_and_is_recorded(tiny: Stack, tmp_path: Path) -> None:
    """`b` depends on `a` only through depends_on: created after it, recorded as a dependency, deleted before it."""
    extend(
        tiny,
        tmp_path,
        "a = TrainingFile('a', endpoint=endpoint, path='other.jsonl')\n"
        "TrainingFile('b', endpoint=endpoint, path='train.jsonl', opts=pulumi.ResourceOptions(depends_on=[a]))\n",
    )
    up = tiny.run("up")
    order = [s.name for s in up.steps]
    assert order.index("a") < order.index("b")
    a_urn = str(record(tiny, "a")["urn"])
    assert a_urn in record(tiny, "b")["dependencies"]  # type: ignore[operator]
    destroy = tiny.run("destroy")
    deleted = [s.name for s in destroy.steps]
    assert deleted.index("b") < deleted.index("a")


def test_protect_refuses_delete_destroy_and_replace_with_the_clis_words(tiny: Stack, tmp_path: Path) -> None:
    """A protected file: removing it, destroying the stack and replacing it all fail; nothing is deleted."""
    protected = "TrainingFile('keep', endpoint=endpoint, path='{}', opts=pulumi.ResourceOptions(protect=True))\n"
    extend(tiny, tmp_path, protected.format("other.jsonl"))
    tiny.run("up")
    urn = str(record(tiny, "keep")["urn"])
    assert raw_resource(tiny, "keep")["protect"] is True
    kept = set(files(tiny))

    extend(tiny, tmp_path, protected.format("third.jsonl"))  # new bytes: a replacement
    mark = tiny.mark()
    with pytest.raises(
        HarnessError, match=rf'unable to replace resource "{urn}"\nas it is currently marked for protection'
    ):
        tiny.run("up")
    assert tiny.mutations(mark) == []  # refused by the preview, before any change

    extend(tiny, tmp_path, "")  # no longer in the program
    with pytest.raises(HarnessError, match=rf'resource "{urn}" cannot be deleted\nbecause it is protected'):
        tiny.run("up")
    assert kept <= set(files(tiny))
    assert urn in {r["urn"] for r in tiny.resources()}

    # Last: as for the CLI, deletions already in flight beside the refused one go ahead.
    with pytest.raises(HarnessError, match=rf'resource "{urn}" cannot be deleted\nbecause it is protected'):
        tiny.run("destroy")
    assert urn in {r["urn"] for r in tiny.resources()}
    assert record(tiny, "keep")["id"] in files(tiny)


def test_retain_on_delete_keeps_the_remote_object(tiny: Stack, tmp_path: Path) -> None:
    """A retained file left out of the program leaves the state; its upload stays in the account."""
    extend(
        tiny,
        tmp_path,
        "TrainingFile('kept', endpoint=endpoint, path='other.jsonl', "
        "opts=pulumi.ResourceOptions(retain_on_delete=True))\n",
    )
    tiny.run("up")
    file_id = str(record(tiny, "kept")["id"])
    assert raw_resource(tiny, "kept")["retainOnDelete"] is True
    extend(tiny, tmp_path, "")
    mark = tiny.mark()
    up = tiny.run("up")
    assert up.ops()["kept"] == "delete"
    assert "kept" not in {str(r["urn"]).rsplit("::", 1)[1] for r in tiny.resources()}
    assert file_id in files(tiny)
    assert not [m for m in tiny.mutations(mark) if file_id in m[1]]


def test_ignore_changes_on_a_nested_path_keeps_the_job_from_retraining(tiny: Stack, tmp_path: Path) -> None:
    """`hyperparameters.n_epochs` ignored: a new value neither replaces the job nor reaches its state."""
    tiny.run("up")
    main = extend(tiny, tmp_path, "")
    main.write_text(main.read_text().replace('{"n_epochs": 1}', '{"n_epochs": 2}'))
    assert tiny.run("preview").ops()["job"] == "replace"  # without the option: a new paid training run
    main.write_text(
        main.read_text().replace(
            'suffix="tiny",',
            'suffix="tiny",\n    opts=pulumi.ResourceOptions(ignore_changes=["hyperparameters.n_epochs"]),',
        )
    )
    mark = tiny.mark()
    up = tiny.run("up")
    assert up.ops()["job"] == "same"
    assert tiny.mutations(mark) == []
    assert record(tiny, "job")["inputs"]["hyperparameters"] == {"n_epochs": 1}  # type: ignore[index]


def test_replace_on_changes_works_only_where_the_engine_knows_the_changed_keys(tiny: Stack, tmp_path: Path) -> None:
    """A group's tags (the engine's own diff) force a replacement; a job's custom diff sends no keys: inert."""
    tiny.run("up")
    main = extend(tiny, tmp_path, "")
    source = main.read_text()
    source = source.replace(
        'location="eastus2")',
        'location="eastus2", tags={"team": "b"}, opts=pulumi.ResourceOptions(replace_on_changes=["tags"]))',
    )
    source = source.replace(
        'suffix="tiny",',
        'suffix="tiny", timeout_minutes=30,\n    opts=pulumi.ResourceOptions(replace_on_changes=["*"]),',
    )
    main.write_text(source)
    preview = tiny.run("preview")
    group = next(s for s in preview.steps if s.name == "tiny")
    assert (group.op, group.replaces) == ("replace", ("tags",))
    job = next(s for s in preview.steps if s.name == "job")
    # A replaced group replaces the account (a new name) and with it everything on its endpoint, except that the
    # job's own change (timeout_minutes) is an update the option cannot turn into a replacement.
    main.write_text(source.replace('tags={"team": "b"}, ', ""))
    job_alone = next(s for s in tiny.run("preview").steps if s.name == "job")
    assert job_alone.op == "update", job_alone
    assert job.op == "replace"


def test_delete_before_replace_deletes_the_old_file_first(tiny: Stack, tmp_path: Path) -> None:
    """A replaced file with delete_before_replace: its DELETE comes before the new upload."""
    code = (
        "TrainingFile('swap', endpoint=endpoint, path='{}', opts=pulumi.ResourceOptions(delete_before_replace=True))\n"
    )
    extend(tiny, tmp_path, code.format("other.jsonl"))
    tiny.run("up")
    old_id = str(record(tiny, "swap")["id"])
    extend(tiny, tmp_path, code.format("third.jsonl"))
    mark = tiny.mark()
    up = tiny.run("up")
    assert up.ops()["swap"] == "replace"
    mutations = tiny.mutations(mark)
    deleted = next(i for i, (method, path) in enumerate(mutations) if method == "DELETE" and path.endswith(old_id))
    uploaded = [i for i, (method, path) in enumerate(mutations) if method == "POST" and path.endswith("/files")]
    assert uploaded, mutations
    assert deleted < min(uploaded)
    assert old_id not in files(tiny)


def test_an_aliased_rename_is_not_a_replacement(tiny: Stack, tmp_path: Path) -> None:
    """Renamed with `aliases=[Alias(name=old)]`: same step, no request; without the alias: a create and a delete."""
    extend(tiny, tmp_path, "TrainingFile('before', endpoint=endpoint, path='other.jsonl')\n")
    tiny.run("up")
    file_id = record(tiny, "before")["id"]
    extend(tiny, tmp_path, "TrainingFile('after', endpoint=endpoint, path='other.jsonl')\n")
    plain = tiny.run("preview")
    assert (plain.ops()["after"], plain.ops()["before"]) == ("create", "delete")
    extend(
        tiny,
        tmp_path,
        "TrainingFile('after', endpoint=endpoint, path='other.jsonl', "
        "opts=pulumi.ResourceOptions(aliases=[pulumi.Alias(name='before')]))\n",
    )
    mark = tiny.mark()
    up = tiny.run("up")
    assert up.ops()["after"] == "same"
    assert "before" not in up.ops()
    assert tiny.mutations(mark) == []
    assert record(tiny, "after")["id"] == file_id
    assert "before" not in {str(r["urn"]).rsplit("::", 1)[1] for r in tiny.resources()}


def test_custom_timeouts_are_recorded_and_not_enforced_by_the_plugin(tiny: Stack, tmp_path: Path) -> None:
    """A 1 ns create timeout: the plugin ignores it (the create succeeds), the state records it in seconds."""
    extend(
        tiny,
        tmp_path,
        "TrainingFile('slow', endpoint=endpoint, path='other.jsonl', "
        "opts=pulumi.ResourceOptions(custom_timeouts=pulumi.CustomTimeouts(create='1ns', delete='2m')))\n",
    )
    up = tiny.run("up")
    assert up.ops()["slow"] == "create"
    assert record(tiny, "slow")["id"] in files(tiny)
    assert raw_resource(tiny, "slow")["customTimeouts"] == {"create": 1e-9, "delete": 120.0}
    extend(
        tiny,
        tmp_path,
        "TrainingFile('slow', endpoint=endpoint, path='other.jsonl', "
        "opts=pulumi.ResourceOptions(custom_timeouts=pulumi.CustomTimeouts(create='soon')))\n",
    )
    with pytest.raises(HarnessError, match=r"custom_timeouts.create: 'soon' is not a duration"):
        tiny.run("preview")


def test_property_paths_parse_and_ignore_changes_applies_them_as_the_engine() -> None:
    """Dots, indexes and quoted keys; an ignored path takes the old value, or goes when the old inputs lack it."""
    assert property_path('a.b[0]["c.d"]') == ["a", "b", 0, "c.d"]
    with pytest.raises(OptionError, match=r"not a property path"):
        property_path("a..b")
    olds = {"tags": {"team": "a"}, "items": [1, 2], "keep": 1}
    news = {"tags": {"team": "b", "cost": "x"}, "items": [3, 4], "new": 2}
    got = apply_ignore_changes(olds, news, ['tags["team"]', "items[1]", "new"])
    assert got == {"tags": {"team": "a", "cost": "x"}, "items": [3, 2]}
    assert news["tags"]["team"] == "b"  # the program's inputs are not changed in place
    assert apply_ignore_changes(olds, news, ["*"]) == olds
