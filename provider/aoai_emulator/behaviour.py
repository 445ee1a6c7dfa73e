"""How the emulator's models answer, deterministically, so that inference and evaluations mean something.

- A fine-tuned model answers a prompt it was trained on with the assistant answer of its training file. The
  prompt is the text of the user turns before the answer; it matches when the normalised texts are equal
  (case, whitespace and surrounding punctuation ignored) or, failing that, when the closest trained prompt has
  a ``fuzzy_match`` ratio of at least ``NEAR`` (the first such prompt in file order wins a tie).
- An intermediate checkpoint at step ``s`` of ``T`` answers ``round(n * s / T)`` of its ``n`` trained prompts: those
  first in the order of a hash of the job id and the prompt, so a later checkpoint knows what an earlier one knew.
  The final model knows all.
- A base model, and a fine-tuned model asked anything else, gives a fixed non-answer derived from the prompt.

Training answers are read from the job's training file in the blob store; a model whose training file (or
job) is gone answers like its base model.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

from .blobs import Blob
from .similarity import within
from .state import Obj

NEAR = 0.9
NON_ANSWER = "I cannot answer that with confidence."
_SPACE = re.compile(r"\s+")
_EDGE_PUNCTUATION = " \t\n.,;:!?\"'`()[]{}"
_CACHE_LIMIT = 64
_Q = 3
_cache: dict[int, list[tuple[str, str]]] = {}
_known: dict[tuple[int, str, float], tuple[list[tuple[str, str]], Knowledge]] = {}


@dataclass(frozen=True)
class Answer:
    """A model's reply to a prompt, and whether it came from training."""

    text: str
    trained: bool


def normalise(text: str) -> str:
    """Lower-cased text with runs of whitespace collapsed and surrounding punctuation stripped."""
    return _SPACE.sub(" ", text.lower()).strip(_EDGE_PUNCTUATION)


def content_text(content: Any) -> str:
    """The text of a message's content: a string, or the text parts of a content list."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    if isinstance(content, dict):
        return str(content.get("text", ""))
    return ""


def prompt_of(messages: list[Any]) -> str:
    """The prompt a conversation asks: its user turns (before a final assistant answer, if any), normalised."""
    turns = [m for m in messages if isinstance(m, dict)]
    while turns and turns[-1].get("role") == "assistant":
        turns.pop()
    return normalise("\n".join(content_text(m.get("content")) for m in turns if m.get("role") == "user"))


def _pair(example: Any) -> tuple[str, str] | None:
    if not isinstance(example, dict):
        return None
    if isinstance(example.get("messages"), list):
        messages = example["messages"]
        answers = [m for m in messages if isinstance(m, dict) and m.get("role") == "assistant"]
        if not answers:
            return None
        return prompt_of(messages), content_text(answers[-1].get("content"))
    if isinstance(example.get("prompt"), str) and isinstance(example.get("completion"), str):
        return normalise(example["prompt"]), example["completion"]
    preferred = example.get("preferred_output")
    inputs = example.get("input")
    if isinstance(inputs, dict) and isinstance(preferred, list) and preferred and isinstance(preferred[0], dict):
        return prompt_of(inputs.get("messages") or []), content_text(preferred[0].get("content"))
    return None


def trained_pairs(blob: Blob | None) -> list[tuple[str, str]]:
    """The (normalised prompt, answer) pairs of a training file, cached per blob (a blob's bytes never change)."""
    if blob is None:
        return []
    key = blob.key
    if key not in _cache:
        pairs = []
        with blob.open() as fh:
            for line in fh:
                try:
                    pair = _pair(json.loads(line))
                except ValueError:
                    continue
                if pair is not None:
                    pairs.append(pair)
        if len(_cache) >= _CACHE_LIMIT:
            _cache.clear()
        _cache[key] = pairs
    return _cache[key]


def _qgrams(text: str) -> Counter[str]:
    return Counter(text[i : i + _Q] for i in range(len(text) - _Q + 1))


def _floor(length: int, distance: int) -> int:
    """The fewest q-grams a string of ``length`` shares with any string within edit ``distance`` of it."""
    return length - _Q + 1 - distance * _Q


def _unit(*parts: str) -> float:
    digest = hashlib.sha256("\x1f".join(parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def non_answer(model: str, prompt: str) -> str:
    """What a model says to a prompt it was not trained on: fixed, and derived from the prompt."""
    digest = hashlib.sha256(f"{model}\x1f{prompt}".encode()).hexdigest()[:8]
    return f"{NON_ANSWER} (ref {digest})"


class Knowledge:
    """What a model learnt: its training pairs, and the prompts it answers (all of them for a final model)."""

    def __init__(self, job_id: str, pairs: list[tuple[str, str]], fraction: float) -> None:
        self.job_id = job_id
        self.fraction = fraction
        self.exact: dict[str, str] = {}
        for prompt, reply in pairs:
            self.exact.setdefault(prompt, reply)
        self.prompts = list(self.exact)  # file order, which breaks ties between equally near prompts
        ranked = sorted(self.prompts, key=lambda p: _unit(job_id, p))
        self.known = frozenset(ranked if fraction >= 1.0 else ranked[: round(len(ranked) * fraction)])
        self._grams: dict[str, list[tuple[int, int]]] | None = None

    def knows(self, prompt: str) -> bool:
        """True when this model (or checkpoint) answers the trained ``prompt``."""
        return prompt in self.known

    def recall(self, prompt: str) -> tuple[str, str] | None:
        """The trained (prompt, answer) a prompt matches: equal after normalising, else the nearest at ``NEAR``.

        Of equally near prompts the first in the file wins.
        """
        if prompt in self.exact:
            return prompt, self.exact[prompt]
        best: tuple[float, int] | None = None
        for common, index in self._candidates(prompt):
            # The nearest so far tightens the bound: a candidate can only tie or beat it with at least this many
            # q-grams in common (the same count filter as below, at the distance the best ratio allows).
            ratio_cap = best[0] if best is not None else 1 - NEAR
            if common < _floor(len(prompt), int(ratio_cap * len(prompt) / NEAR + 1e-9)):
                break
            trained = self.prompts[index]
            longest = max(len(trained), len(prompt))
            distance = within(trained, prompt, int(ratio_cap * longest + 1e-9))
            if distance is not None and (best is None or (distance / longest, index) < best):
                best = (distance / longest, index)
        return None if best is None else (self.prompts[best[1]], self.exact[self.prompts[best[1]]])

    def _candidates(self, prompt: str) -> list[tuple[int, int]]:
        """(q-grams in common, index) of the trained prompts that can be within ``NEAR`` of ``prompt``, most first.

        Two strings at edit distance ``k`` or less share at least ``len - q + 1 - k * q`` of their q-grams, and a
        prompt at ratio ``NEAR`` is at distance ``(1 - NEAR) * len / NEAR`` at most: the others need no edit
        distance at all, which keeps a held-out test set against a large training set fast.
        """
        if _floor(len(prompt), int((1 - NEAR) * len(prompt) / NEAR + 1e-9)) <= 0:
            return [(0, index) for index in range(len(self.prompts))]
        if self._grams is None:
            self._grams = {}
            for index, trained in enumerate(self.prompts):
                for gram, count in _qgrams(trained).items():
                    self._grams.setdefault(gram, []).append((index, count))
        shared: Counter[int] = Counter()
        for gram, count in _qgrams(prompt).items():
            for index, other in self._grams.get(gram, ()):
                shared[index] += min(count, other)
        return sorted(((common, index) for index, common in shared.items()), key=lambda c: (-c[0], c[1]))


def knowledge(
    held: dict[str, Obj], accounts: dict[str, Obj], account: Obj, model: str, blob_of: Any
) -> Knowledge | None:
    """The training behind a fine-tuned model or checkpoint ``account`` holds (``held``); a copy looks in its source."""
    entry = held.get(model)
    if entry is None:
        for candidate in held.values():
            if candidate.get("checkpoint_id") == model:
                entry = candidate
        if entry is None:
            return None
    owner = accounts.get(str(entry.get("source_account", "")).lower(), account)
    job = owner["jobs"].get(entry.get("job"))
    if job is None or job.get("status") != "succeeded":
        return None
    total = max(1, int(job.get("_total_steps") or 1))
    step = total
    for cp in job.get("_checkpoints", []):
        if cp["fine_tuned_model_checkpoint"] == entry["id"]:
            step = int(cp["step_number"])
    pairs = trained_pairs(blob_of(job["training_file"]))
    # One Knowledge per training file version and checkpoint, so repeated chat calls reuse its indexes.
    key = (id(pairs), job["id"], min(1.0, step / total))
    found = _known.get(key)
    if found is None or found[0] is not pairs:
        if len(_known) >= _CACHE_LIMIT:
            _known.clear()
        found = _known[key] = (pairs, Knowledge(job["id"], pairs, key[2]))
    return found[1]


def answer(known: Knowledge | None, model: str, messages: list[Any]) -> Answer:
    """The reply of ``model`` (with what it learnt, if anything) to a conversation."""
    prompt = prompt_of(messages)
    if known is not None:
        pair = known.recall(prompt)
        if pair is not None and known.knows(pair[0]):
            return Answer(pair[1], True)
    return Answer(non_answer(model, prompt), False)


def is_non_answer(text: str) -> bool:
    """True for the reply of a model that did not know the answer."""
    return text.startswith(NON_ANSWER)
