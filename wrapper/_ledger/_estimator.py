"""Expected prompt tokens of a call, learning each model's real ratio; shown to people, never used for admission.

Admission reserves the provable worst case of :mod:`wrapper._ledger._bounds` instead: this estimator was once the
reservation, and one ratio learned on prose then under-counted digit-heavy prompts (issue 12). It stays for the
*expected* cost (``Estimate.expected_cost``), where being close matters more than being safe.

How a prompt is counted (no tokenizer is loaded; this is arithmetic on the text):

* Text is measured in *units*: an ASCII letter or whitespace is 1 unit, ASCII punctuation 2, a digit 3, and each
  UTF-8 byte of a non-ASCII character 2 (so a CJK character is 6 units, an emoji 8).
* ``tokens = ceil(units / ratio)`` with a default ratio of 3.0 units per token. Calibrated on the Qwen2.5 tokenizer,
  real ratios were: English prose 4.7, code 3.3, JSON 3.4, digit strings and hex 3.0 (Qwen spends one token per
  digit), punctuation runs 3.2, Chinese 11, rare CJK 3.2, emoji 7.8. So 3.0 never under-counts those; Llama 3's
  tokenizer is more efficient on all of them.
* Plus ``per_message`` (6) tokens of chat-template framing per message, ``per_request`` (40) for the reply priming
  and the default system prompt some templates insert (Qwen2.5 adds 16 tokens of "You are Qwen..."), a fixed
  ``per_image`` allowance (1024) per image part, and ``per_tools`` (200) plus the tools' JSON when tools are sent.

Learning: after a call, :meth:`Estimator.learn` gets the units of the prompt and the ``prompt_tokens`` Together
reported. The sample ratio is ``units / prompt_tokens`` -- the whole count, overhead included, so re-estimating
that prompt at any length can only come out higher than what was observed. The ratio used for a model is the
*minimum* over its last ``window`` samples (never more optimistic than any of them), the default stays in the
minimum until ``min_samples`` samples exist, and it is capped at ``max_ratio``. Prompts shorter than ``min_units``,
or with images or tools, teach nothing (their overheads dominate or are not modelled).
"""

from __future__ import annotations

import json
import math
import threading
from collections import deque
from collections.abc import Mapping, Sequence
from decimal import Decimal

import attrs

__all__ = ["Estimate", "Estimator", "PromptSize"]

_DIGITS = b"0123456789"
_PUNCT = bytes(c for c in range(33, 127) if not chr(c).isalnum())
_NON_ASCII = bytes(range(128, 256))
_IMAGE_PARTS = frozenset({"image_url", "input_image", "image", "video_url", "input_audio", "audio_url"})


def text_units(text: str) -> int:
    """Return the units of ``text`` (see the module docstring); C-speed byte counting, no per-char loop."""
    ascii_only = text.isascii()
    raw = text.encode("ascii") if ascii_only else text.encode("utf-8", "surrogatepass")
    digits = len(raw) - len(raw.translate(None, _DIGITS))
    punct = len(raw) - len(raw.translate(None, _PUNCT))
    non_ascii = 0 if ascii_only else len(raw) - len(raw.translate(None, _NON_ASCII))
    # base 1 unit per byte, then the extra weight of each class: digit +2, punctuation +1, non-ASCII byte +1
    return len(raw) + 2 * digits + punct + non_ascii


@attrs.frozen
class PromptSize:
    """What the estimator measured in a request: text units, message count, images, and whether it can teach."""

    units: int
    messages: int
    images: int = 0
    tools: bool = False

    @property
    def learnable(self) -> bool:
        """Whether a usage report for this prompt may update the model's ratio (text only, no tools)."""
        return self.images == 0 and not self.tools


@attrs.frozen
class Estimate:
    """A call's pre-flight numbers: the provable worst case (reserved) and the expected cost (shown).

    Attributes:
        model: the model id as the caller spelled it.
        prompt_tokens: the most prompt tokens the call can be billed for (:mod:`wrapper._ledger._bounds`).
        max_completion_tokens: the most completion tokens: ``max_tokens`` (the default when it named none) times
            ``n``.
        cost: the worst-case USD cost, what admission reserves and confirms against (prompt bound at the input
            price + every completion token at the output price), or None when the model's price is unknown.
        size: what the learned estimator measured, kept so the real usage can teach it.
        expected_prompt_tokens: the learned estimator's prompt tokens, never above ``prompt_tokens``
            (default: the bound).
        expected_cost: the cost with ``expected_prompt_tokens`` and every completion token, never above ``cost``
            (default: ``cost``); for people, never for admission.
    """

    model: str
    prompt_tokens: int
    max_completion_tokens: int
    cost: Decimal | None
    size: PromptSize = PromptSize(0, 0)
    expected_prompt_tokens: int = attrs.field(
        default=attrs.Factory(lambda self: self.prompt_tokens, takes_self=True))
    expected_cost: Decimal | None = attrs.field(default=attrs.Factory(lambda self: self.cost, takes_self=True))


def _part_text(part: object) -> tuple[str, int]:
    """Return (text to count, images) of one content part."""
    if isinstance(part, str):
        return part, 0
    if not isinstance(part, Mapping):
        return str(part), 0
    kind = part.get("type")
    if kind == "text":
        text = part.get("text")
        return (text if isinstance(text, str) else ""), 0
    if kind in _IMAGE_PARTS:
        return "", 1
    return json.dumps(part, default=str, ensure_ascii=False), 0


def _message_text(message: Mapping[str, object], texts: list[str]) -> int:
    """Append the texts of ``message`` to ``texts``; return how many images it holds."""
    images = 0
    content = message.get("content")
    if isinstance(content, str):
        texts.append(content)
    elif isinstance(content, list):
        for part in content:
            text, found = _part_text(part)
            texts.append(text)
            images += found
    for key in ("name", "tool_call_id"):
        value = message.get(key)
        if isinstance(value, str):
            texts.append(value)
    for key in ("tool_calls", "function_call"):
        if message.get(key):
            texts.append(json.dumps(message[key], default=str, ensure_ascii=False))
    return images


@attrs.define(eq=False)
class Estimator:
    """Conservative prompt-token estimates that learn each model's units-per-token ratio. Thread-safe.

    The parameters are documented in the module docstring; the defaults suit every model in the built-in table.
    """

    ratio_default: float = 3.0
    per_message: int = 6
    per_request: int = 40
    per_image: int = 1024
    per_tools: int = 200
    window: int = 100
    min_samples: int = 3
    min_units: int = 512
    max_ratio: float = 6.0
    _samples: dict[str, deque[float]] = attrs.field(factory=dict, init=False)
    _lock: threading.Lock = attrs.field(factory=threading.Lock, init=False)

    def measure(self, messages: Sequence[Mapping[str, object]], tools: object = None) -> PromptSize:
        """Measure a request's messages (and its ``tools``/``response_format`` JSON, if any) in units."""
        texts: list[str] = []
        images = 0
        for message in messages:
            images += _message_text(message, texts)
        if tools:
            texts.append(json.dumps(tools, default=str, ensure_ascii=False))
        # units add up over concatenation (they count bytes by class), so one pass over the joined text
        return PromptSize(units=text_units("".join(texts)), messages=len(messages), images=images,
                          tools=bool(tools))

    def tokens(self, model: str, size: PromptSize) -> int:
        """Return the conservative prompt-token estimate for a measured prompt."""
        text = math.ceil(size.units / self.ratio(model))
        overhead = self.per_request + self.per_message * size.messages + self.per_image * size.images
        return text + overhead + (self.per_tools if size.tools else 0)

    def estimate_prompt_tokens(
        self, model: str, messages: Sequence[Mapping[str, object]], tools: object = None
    ) -> int:
        """Return the conservative prompt-token estimate of ``messages`` (dicts in the chat API's shape).

        Content may be a string or a list of parts (``{"type": "text", "text": ...}``; image parts count as
        ``per_image`` tokens each). Names, tool calls and tool-call ids are counted as text.
        """
        return self.tokens(model, self.measure(messages, tools))

    def ratio(self, model: str) -> float:
        """Return the units-per-token ratio used for ``model`` (case-insensitive)."""
        with self._lock:
            samples = self._samples.get(model.lower())
            if not samples:
                return self.ratio_default
            low = min(samples)
            if len(samples) < self.min_samples:
                low = min(low, self.ratio_default)
        return min(low, self.max_ratio)

    def learn(self, model: str, units: int, prompt_tokens: int) -> bool:
        """Record one observed prompt: ``units`` as measured, ``prompt_tokens`` as Together reported.

        Returns:
            Whether the sample was kept (prompts under ``min_units`` units or with no tokens teach nothing).
        """
        if units < self.min_units or prompt_tokens <= 0:
            return False
        sample = max(1.0, units / prompt_tokens)
        with self._lock:
            self._samples.setdefault(model.lower(), deque(maxlen=self.window)).append(sample)
        return True
