"""Deterministic, realistic fine-tuning datasets for the benchmarks.

The lines look like what teams actually upload: a system prompt on most examples, one to four user/assistant
turns, ``weight: 0`` on earlier assistant turns of some multi-turn examples, content with newlines, quotes and
the odd non-ASCII word, and a few tool-calling examples. Line sizes vary from a few hundred bytes to several
kilobytes (mean around 2 KB), so per-line costs and per-byte costs both show up in the measurements.
"""

from __future__ import annotations

import random
from pathlib import Path

import orjson

_WORDS = (  # noqa: SIM905 - a vocabulary reads better as prose than as a 200-item list literal
    "the of and to in is for that on with as it be by this are from or at an your can not will which we you all "
    "model data training file token loss learning rate epoch batch validation deployment endpoint region quota "
    "account resource service request response error retry status job checkpoint metric accuracy customer order "
    "invoice shipment refund policy warranty product service support ticket issue question answer summary report "
    "please thanks hello sure here there when where why how what who could would should might must may first next "
    "then after before during because however therefore example detail step result value number total average "
    "user assistant system message content review update change version release feature setting option default "
    "network storage compute memory latency throughput cache index query table column row record field schema "
    "contract payment address delivery package tracking carrier estimate schedule meeting calendar reminder note"
).split()
# A little non-ASCII, as real datasets have: names, currency, accents, CJK, an emoji.
_RARE = ("café", "naïve", "Zürich", "São Paulo", "€120", "£45", "東京", "données", "résumé", "🙂", "Ωmega")
_SYSTEM = (
    "You are a helpful customer-support assistant for Contoso Retail. Answer briefly and politely; if you do not "
    "know, say so and offer to open a ticket.",
    "You are Marv, a factual chatbot that is also sarcastic.",
    "You are an assistant that summarises internal incident reports for engineers. Use bullet points, keep the "
    "numbers exact, and never invent a root cause that the report does not state.",
    "You translate English product descriptions into plain, friendly French.\nKeep brand names unchanged.",
    "You are a SQL helper. Reply with one query in a ```sql block, then one sentence explaining it.",
)
_TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_order_status",
            "description": "Look up the shipping status of an order.",
            "parameters": {
                "type": "object",
                "properties": {"order_id": {"type": "string", "description": "The order number."}},
                "required": ["order_id"],
            },
        },
    }
]


class _Text:
    """Sentences drawn from a fixed pool, so generating 500 MB takes seconds rather than minutes."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.pool = [self._sentence() for _ in range(4000)]

    def _sentence(self) -> str:
        rng = self.rng
        words = rng.choices(_WORDS, k=rng.randint(6, 22))
        if rng.random() < 0.05:
            words[rng.randrange(len(words))] = rng.choice(_RARE)
        if rng.random() < 0.08:
            i = rng.randrange(len(words))
            words[i] = f'"{words[i]}"'
        sentence = " ".join(words)
        end = rng.choice((".", ".", ".", "?", "!", ":\n-"))
        return sentence[0].upper() + sentence[1:] + end

    def paragraph(self, low: int, high: int) -> str:
        """About ``low``..``high`` characters of prose, sometimes split into paragraphs."""
        target = self.rng.randint(low, high)
        parts: list[str] = []
        size = 0
        while size < target:
            s = self.rng.choice(self.pool)
            parts.append(s)
            size += len(s) + 1
            if self.rng.random() < 0.1:
                parts.append("\n\n")
        return " ".join(parts).strip()


def _example(rng: random.Random, text: _Text) -> dict[str, object]:
    messages: list[dict[str, object]] = []
    if rng.random() < 0.8:
        messages.append({"role": "system", "content": rng.choice(_SYSTEM)})
    if rng.random() < 0.03:
        # A tool round trip: the assistant calls a function, reads the result, then answers.
        call_id = f"call_{rng.getrandbits(48):012x}"
        messages += [
            {"role": "user", "content": text.paragraph(40, 200)},
            {
                "role": "assistant",
                "tool_calls": [
                    {
                        "id": call_id,
                        "type": "function",
                        "function": {
                            "name": "get_order_status",
                            "arguments": f'{{"order_id": "A-{rng.randint(1000, 99999)}"}}',
                        },
                    }
                ],
            },
            {"role": "tool", "tool_call_id": call_id, "content": '{"status": "shipped", "eta_days": 2}'},
            {"role": "assistant", "content": text.paragraph(80, 600)},
        ]
        return {"messages": messages, "tools": _TOOLS}
    turns = rng.choices((1, 2, 3, 4), weights=(45, 30, 15, 10))[0]
    weighted = turns > 1 and rng.random() < 0.25
    for turn in range(turns):
        messages.append({"role": "user", "content": text.paragraph(30, 500)})
        answer: dict[str, object] = {"role": "assistant", "content": text.paragraph(60, 1400)}
        if weighted:
            answer["weight"] = 1 if turn == turns - 1 else 0
        messages.append(answer)
    return {"messages": messages}


def make_chat_dataset(path: Path | str, target_bytes: int, seed: int = 0) -> int:
    """Write a chat-format JSONL file of about ``target_bytes`` (whole lines) to ``path``; return its examples.

    The same ``seed`` and ``target_bytes`` always give the same bytes.
    """
    rng = random.Random(seed)
    text = _Text(rng)
    written = 0
    examples = 0
    chunk: list[bytes] = []
    chunk_size = 0
    with open(path, "wb") as f:
        while written < target_bytes:
            line = orjson.dumps(_example(rng, text)) + b"\n"
            chunk.append(line)
            chunk_size += len(line)
            written += len(line)
            examples += 1
            if chunk_size >= 1 << 20:
                f.write(b"".join(chunk))
                chunk.clear()
                chunk_size = 0
        f.write(b"".join(chunk))
    return examples
