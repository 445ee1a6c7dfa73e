"""Text similarity metrics of the ``text_similarity`` grader, computed exactly where the metric is well defined.

- ``fuzzy_match``: the normalised Levenshtein ratio ``1 - distance / max(len)`` of the two strings (1.0 for
  two empty strings). Exact.
- ``bleu``: sentence BLEU-4 (uniform weights, brevity penalty, no smoothing, so 0.0 as soon as one n-gram order
  has no match), over lower-cased word tokens. Exact for that definition; the service may smooth.
- ``gleu``: Google's sentence GLEU, ``min(precision, recall)`` of the 1- to 4-grams pooled. Exact.
- ``rouge_1`` .. ``rouge_5``: the F1 of the n-gram overlap; ``rouge_l``: the F1 of the longest common
  subsequence. Exact, over lower-cased alphanumeric tokens as rouge-score tokenizes.
- ``meteor``: APPROXIMATED: exact-match unigram alignment only (no stemming, no synonyms), with METEOR's
  ``Fmean`` (recall weighted 9:1) and fragmentation penalty ``0.5 * (chunks / matches) ** 3``.
"""

from __future__ import annotations

import itertools
import math
import re
from collections import Counter
from collections.abc import Callable

_WORD = re.compile(r"[a-z0-9]+")
METRICS = ("fuzzy_match", "bleu", "gleu", "meteor", "rouge_1", "rouge_2", "rouge_3", "rouge_4", "rouge_5", "rouge_l")


def levenshtein(a: str, b: str) -> int:
    """The edit distance (insertions, deletions, substitutions) between two strings."""
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def within(a: str, b: str, limit: int) -> int | None:
    """The edit distance of two strings if it is at most ``limit``, else None (a banded, early-exit computation)."""
    if abs(len(a) - len(b)) > limit:
        return None
    if len(a) < len(b):
        a, b = b, a
    big = limit + 1
    previous = [j if j <= limit else big for j in range(len(b) + 1)]
    for i in range(1, len(a) + 1):
        current = [i if i <= limit else big] + [big] * len(b)
        for j in range(max(1, i - limit), min(len(b), i + limit) + 1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] != b[j - 1]), big)
        if min(current) > limit:
            return None
        previous = current
    return previous[-1] if previous[-1] <= limit else None


def fuzzy_match(a: str, b: str) -> float:
    """``1 - levenshtein / longer length``: 1.0 for equal strings, 0.0 for nothing in common."""
    longest = max(len(a), len(b))
    return 1.0 if longest == 0 else 1.0 - levenshtein(a, b) / longest


def words(text: str) -> list[str]:
    """Lower-cased alphanumeric tokens, as rouge-score splits text."""
    return _WORD.findall(text.lower())


def _ngrams(tokens: list[str], n: int) -> Counter[tuple[str, ...]]:
    return Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))


def _f1(overlap: int, candidate: int, reference: int) -> float:
    if overlap == 0 or candidate == 0 or reference == 0:
        return 0.0
    precision, recall = overlap / candidate, overlap / reference
    return 2 * precision * recall / (precision + recall)


def rouge_n(candidate: str, reference: str, n: int) -> float:
    """ROUGE-N F1."""
    c, r = _ngrams(words(candidate), n), _ngrams(words(reference), n)
    return _f1(sum((c & r).values()), sum(c.values()), sum(r.values()))


def _lcs(a: list[str], b: list[str]) -> int:
    previous = [0] * (len(b) + 1)
    for x in a:
        current = [0]
        for j, y in enumerate(b, 1):
            current.append(previous[j - 1] + 1 if x == y else max(previous[j], current[j - 1]))
        previous = current
    return previous[-1]


def rouge_l(candidate: str, reference: str) -> float:
    """ROUGE-L F1 (longest common subsequence of tokens)."""
    c, r = words(candidate), words(reference)
    return _f1(_lcs(c, r), len(c), len(r))


def bleu(candidate: str, reference: str) -> float:
    """Sentence BLEU-4 with uniform weights and brevity penalty, unsmoothed."""
    c, r = words(candidate), words(reference)
    if not c or not r:
        return 0.0
    logs = []
    for n in range(1, 5):
        cand = _ngrams(c, n)
        total = sum(cand.values())
        matched = sum((cand & _ngrams(r, n)).values())
        if total == 0 or matched == 0:
            return 0.0
        logs.append(math.log(matched / total))
    penalty = 1.0 if len(c) > len(r) else math.exp(1 - len(r) / len(c))
    return penalty * math.exp(sum(logs) / 4)


def gleu(candidate: str, reference: str) -> float:
    """Sentence GLEU: ``min(precision, recall)`` over the 1- to 4-grams of both texts."""
    c, r = words(candidate), words(reference)
    cand: Counter[tuple[str, ...]] = Counter()
    ref: Counter[tuple[str, ...]] = Counter()
    for n in range(1, 5):
        cand.update(_ngrams(c, n))
        ref.update(_ngrams(r, n))
    matched, c_total, r_total = sum((cand & ref).values()), sum(cand.values()), sum(ref.values())
    if c_total == 0 or r_total == 0:
        return 0.0
    return min(matched / c_total, matched / r_total)


def meteor(candidate: str, reference: str) -> float:
    """METEOR approximated by exact unigram matches (see the module docstring)."""
    c, r = words(candidate), words(reference)
    used = [False] * len(r)
    alignment: list[int] = []
    for token in c:
        for j, other in enumerate(r):
            if not used[j] and other == token:
                used[j] = True
                alignment.append(j)
                break
    matches = len(alignment)
    if matches == 0:
        return 0.0
    precision, recall = matches / len(c), matches / len(r)
    fmean = 10 * precision * recall / (recall + 9 * precision)
    chunks = 1 + sum(1 for a, b in itertools.pairwise(alignment) if b != a + 1)
    return fmean * (1 - 0.5 * (chunks / matches) ** 3)


SCORERS: dict[str, Callable[[str, str], float]] = {
    "fuzzy_match": fuzzy_match,
    "bleu": bleu,
    "gleu": gleu,
    "meteor": meteor,
    "rouge_l": rouge_l,
    **{f"rouge_{n}": (lambda c, r, n=n: rouge_n(c, r, n)) for n in range(1, 6)},  # type: ignore[misc]
}


def score(metric: str, candidate: str, reference: str) -> float:
    """The ``metric`` similarity of ``candidate`` to ``reference``, from 0 to 1."""
    return SCORERS[metric](candidate, reference)
