"""Stack config and secrets as the CLI keeps them: ``Pulumi.<stack>.yaml`` and the passphrase secrets manager.

Proved against Pulumi's own test vectors (vendored in ``pulumi_vectors/``, see its README): the salt state of
the passphrase manager's tests and a config file the CLI wrote in its round-trip tests.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml  # type: ignore[import-untyped]

from pulumi_aoai_finetuning.testing.passphrase import PassphraseCrypter, PassphraseError, require_passphrase
from pulumi_aoai_finetuning.testing.program import HarnessError, ProgramResult, run_program
from pulumi_aoai_finetuning.testing.stack_config import StackConfig, StackConfigError
from tests.harness.schema import schema_errors
from tests.test_program_harness import ARM_TOKEN, TINY, Stack

VECTORS = Path(__file__).parent / "pulumi_vectors"
ROUNDTRIP_PASSPHRASE = "TestConfigRoundtripComments"


def qualify(key: str) -> str:
    """Bare keys belong to the project ``foo`` of the round-trip test."""
    return key if ":" in key else f"foo:{key}"


def test_the_passphrase_managers_test_state_tells_the_right_passphrase_from_a_wrong_one() -> None:
    """`password` unlocks Pulumi's test salt state; `password123` is refused, as in manager_test.go."""
    vector = json.loads((VECTORS / "manager_test.json").read_text())
    crypter = PassphraseCrypter.from_state(vector["state"], vector["passphrase"])
    assert crypter.decrypt(vector["state"].split(":", 2)[2]) == "pulumi"
    with pytest.raises(PassphraseError, match=r"incorrect passphrase"):
        PassphraseCrypter.from_state(vector["state"], vector["wrong_passphrase"])
    with pytest.raises(PassphraseError, match=r"bad salt state"):
        PassphraseCrypter.from_state("fozI5u6B030=:v1:F+6ZduL:PGMFeIzwobWRKmEAzUdaQHqC5mMRIQ==", "password")


def test_a_config_file_the_cli_wrote_decrypts_with_its_passphrase() -> None:
    """The round-trip test's Pulumi.test.yaml: plain, structured and secure values, as the engine hands them over."""
    file = StackConfig.load(VECTORS / "Pulumi.test.yaml")
    crypter = file.crypter({"PULUMI_CONFIG_PASSPHRASE": ROUNDTRIP_PASSPHRASE})
    values, secure = file.values(qualify, crypter)
    assert values["foo:a"] == "some-value"
    assert json.loads(values["foo:c"]) == {"a": "A", "b": "B", "c": [1, 2, 3]}
    assert values["foo:d"] == "secret-value"
    assert secure == {"foo:d"}
    with pytest.raises(StackConfigError, match=r"Pulumi.test.yaml: incorrect passphrase"):
        file.crypter({"PULUMI_CONFIG_PASSPHRASE": "not-it"})
    assert file.crypter({}) is None  # no passphrase: secure values are left out, not guessed
    assert file.values(qualify, None)[0].keys() == {"foo:a", "foo:b", "foo:c"}


def test_config_set_secret_encrypts_under_the_files_salt_and_never_writes_the_plaintext(tmp_path: Path) -> None:
    """`config set --secret` on Pulumi's file keeps its salt; the value reads back with the same passphrase."""
    path = tmp_path / "Pulumi.test.yaml"
    shutil.copy(VECTORS / "Pulumi.test.yaml", path)
    env = {"PULUMI_CONFIG_PASSPHRASE": ROUNDTRIP_PASSPHRASE}
    file = StackConfig.load(path)
    file.set("foo:e", "E")
    file.set("foo:key", "s3cr3t-key-value", secret=True, environ=env)
    file.save()
    text = path.read_text()
    assert "s3cr3t-key-value" not in text
    raw = yaml.safe_load(text)
    assert raw["encryptionsalt"] == StackConfig.load(VECTORS / "Pulumi.test.yaml").encryptionsalt
    assert raw["config"]["foo:key"]["secure"].startswith("v1:")
    again = StackConfig.load(path)
    values, secure = again.values(qualify, again.crypter(env))
    assert (values["foo:key"], values["foo:d"], values["foo:e"]) == ("s3cr3t-key-value", "secret-value", "E")
    assert secure == {"foo:d", "foo:key"}


def test_the_first_secret_makes_a_salt_and_needs_a_passphrase(tmp_path: Path) -> None:
    """A new stack's first secret: without a passphrase, the CLI's error; with one, a v1 salt and a fresh nonce."""
    file = StackConfig.load(tmp_path / "Pulumi.dev.yaml")
    with pytest.raises(StackConfigError, match=r"passphrase must be set with PULUMI_CONFIG_PASSPHRASE or"):
        file.set("azure-openai:apiKey", "k", secret=True, environ={})
    passfile = tmp_path / "phrase.txt"
    passfile.write_text("  from a file\n")
    env = {"PULUMI_CONFIG_PASSPHRASE_FILE": str(passfile)}
    assert require_passphrase(env) == "from a file"  # trimmed, as the CLI reads the file
    file.set("azure-openai:apiKey", "k", secret=True, environ=env)
    file.set("azure-openai:other", "k", secret=True, environ=env)
    first, second = (file.config[k]["secure"] for k in ("azure-openai:apiKey", "azure-openai:other"))
    assert first != second  # a fresh nonce for every value
    assert file.encryptionsalt is not None
    assert file.encryptionsalt.startswith("v1:")
    assert PassphraseCrypter.from_state(file.encryptionsalt, "from a file").decrypt(first) == "k"


def test_the_harness_reads_encrypted_stack_config_with_the_passphrase(
    tiny: Stack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An ARM token stored with `config set --secret`: refused without the passphrase, used with it, never stored."""
    program = tmp_path / "program"
    shutil.copytree(TINY, program)
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", "harness-pass")
    file = StackConfig.load(program / "Pulumi.dev.yaml")
    file.set("azure-openai:armEndpoint", tiny.url)
    file.set("azure-openai:armToken", ARM_TOKEN, secret=True)
    file.save()
    assert ARM_TOKEN not in (program / "Pulumi.dev.yaml").read_text()
    state = tmp_path / "dev.json"

    monkeypatch.delenv("PULUMI_CONFIG_PASSPHRASE")
    with pytest.raises(HarnessError, match=r"encrypted values for azure-openai:armToken: set PULUMI_CONFIG_PASSPHRASE"):
        run(program, state)
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", "wrong")
    with pytest.raises(HarnessError, match=r"Pulumi.dev.yaml: incorrect passphrase"):
        run(program, state)
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", "harness-pass")
    result = run(program, state)
    assert result.ops()["job"] == "create"
    assert ARM_TOKEN not in state.read_text()


def run(program: Path, state: Path) -> ProgramResult:
    """`up` with no config but the stack's file (and quick polling)."""
    polling = {"azure-openai:pollIntervalSeconds": "0.01", "azure-openai:pollMaxSeconds": "0.05"}
    return run_program("up", program, state, config=polling)


def test_with_a_passphrase_state_secrets_are_encrypted_as_the_cli_encrypts_them(
    tiny: Stack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stack with an encryptionsalt: state secrets are `v1:` ciphertexts under it, and the salt is recorded."""
    program = tmp_path / "program"
    shutil.copytree(TINY, program)
    main = program / "__main__.py"
    source = main.read_text().replace('path="train.jsonl")', 'path=pulumi.Output.secret("train.jsonl"))')
    main.write_text(source + 'pulumi.export("note", pulumi.Output.secret("a-secret-note-value"))\n')
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", "state-pass")
    file = StackConfig.load(program / "Pulumi.dev.yaml")
    file.set("azure-openai:armEndpoint", tiny.url)
    file.set("azure-openai:armToken", ARM_TOKEN, secret=True)
    file.save()
    state = tmp_path / "dev.json"
    run(program, state)

    text = state.read_text()
    assert "a-secret-note-value" not in text
    document = json.loads(text)
    assert schema_errors(document) == []
    assert document["deployment"]["secrets_providers"] == {"type": "passphrase", "state": {"salt": file.encryptionsalt}}
    crypter = PassphraseCrypter.from_state(str(file.encryptionsalt), "state-pass")
    resources = {r["urn"].rsplit("::", 1)[1]: r for r in document["deployment"]["resources"]}
    note = resources["tiny-finetune-dev"]["outputs"]["note"]["ciphertext"]
    path = resources["train"]["inputs"]["path"]["ciphertext"]
    assert (json.loads(crypter.decrypt(note)), json.loads(crypter.decrypt(path))) == (
        "a-secret-note-value",
        "train.jsonl",
    )

    mark = len(tiny.emulator.requests())
    again = run(program, state)
    assert set(again.ops().values()) == {"same"}
    assert not [r for r in tiny.emulator.requests()[mark:] if r["method"] in ("POST", "PUT", "PATCH", "DELETE")]
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", "wrong")
    with pytest.raises(HarnessError, match=r"incorrect passphrase"):
        run(program, state)
