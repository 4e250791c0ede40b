"""Provable worst-case token counts of a call: what admission reserves, from UTF-8 bytes and bounded allowances.

Why bytes bound tokens. The tokenizers of the models we price (Qwen2.5's and Llama 3's) are byte-level BPE: the
text is mapped byte by byte onto a 256-symbol base alphabet that is entirely in the vocabulary, and every merge
joins two symbols into one, so a text of *n* UTF-8 bytes becomes at most *n* tokens. Byte-fallback BPE
(SentencePiece style: Llama 2, Mistral, Gemma) emits a known character as one token and an unknown one as one
token per UTF-8 byte, so again at most one token per byte, plus one for the dummy-prefix space each text segment
may get (covered by the per-message allowance). Special tokens (``<|im_start|>``, ``<|eot_id|>``...) are text
the *template* adds, never bytes we sent, so they are counted in the allowances below. A text a user sends that
happens to spell a special token can only turn many bytes into one token.

Normalisation can change the byte count before tokenising: Qwen2.5's tokenizer applies NFC, and NFC expands a
few characters (U+1D160, 4 bytes, becomes 3 code points, 12 bytes). So a non-ASCII text counts as the larger of
its raw and NFC UTF-8 lengths; ASCII text is unchanged by NFC and counts as its length (no encoding at all).
Llama 3, Llama 2, Mistral and Gemma normalise nothing. NFKC (up to 18 code points from one) and NFD are not
covered: no chat model we know of tokenises with them, and NFKC costs ~60 us per 500 CJK characters.

What is measured, per request (all of it text the chat template may render into the prompt):

* every message: its ``content`` (a string, or each ``text`` part of a list), ``name``, ``tool_call_id`` and any
  other string field; ``tool_calls``, ``function_call`` and any other structured field as JSON (below);
* the ``tools`` list and the ``response_format`` as JSON.

JSON is measured as the *template* may render it, not as we send it: templates re-serialise with Jinja's
``tojson`` (``\\uXXXX`` escapes, and ``< > & '`` become 6-byte escapes) or transformers' ``tojson`` (raw UTF-8),
and Llama 3.1 indents tools by 4. We count the larger of ``json.dumps(indent=4)`` with those HTML escapes and
:func:`text_bytes` of ``json.dumps(indent=4, ensure_ascii=False)``; more indent or fewer escapes are never larger.

Allowances (tokens, each bounded, all fields of :class:`Bounds`):

* ``per_request`` 128: the default system prompt a template may add when the caller sends none plus the reply
  priming. Qwen2.5: ``<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. You are a helpful
  assistant.<|im_end|>\\n`` (2 special tokens + 76 bytes) and ``<|im_start|>assistant\\n`` (1 + 10 bytes): 89.
  Llama 3.1: ``<|begin_of_text|>``, a system header with "Cutting Knowledge Date: December 2023\\nToday Date:
  26 Jul 2024\\n\\n" and ``Environment: ipython\\n`` when tools are sent (4 specials + 92 bytes) and the assistant
  header (2 specials + 11 bytes): 109.
* ``per_message`` 16: the turn framing of one message, a role of up to 9 bytes included (a longer role is counted
  as text): Qwen2.5 ``<|im_start|>assistant\\n ... <|im_end|>\\n`` is 2 specials + 11 bytes = 13; Llama 3
  (3 specials + role + ``\\n\\n``) is at most 14; a SentencePiece dummy-prefix space adds 1.
* ``per_tool_message`` 32 more for a ``tool``/``function`` result: Qwen2.5 wraps it in ``\\n<tool_response>\\n``
  and ``\\n</tool_response>`` (34 bytes).
* ``per_tool_call`` 64 for each entry of ``tool_calls`` (or a ``function_call``): Qwen2.5's ``<tool_call>\\n{"name":
  "...", "arguments": ...}\\n</tool_call>\\n`` adds 53 bytes around the name and arguments we count anyway.
* ``per_tools`` 512 when tools are sent: the tool-use instructions a template adds (Qwen2.5's "# Tools ... within
  <tool_call></tool_call> XML tags" block is 373 bytes, Llama 3.1's "Given the following functions ..." 267
  bytes); the list's own JSON separators and indentation cover the line breaks between tools.
* ``per_image`` 16,448 per image part: the most any priced or served vision model spends on one image. Qwen2.5-VL
  caps an image at 12,845,056 pixels, 16,384 tokens of 28x28 patches, plus its vision start/end markers; Llama 3.2
  Vision spends at most 4 tiles x 1,601 = 6,404 and Llama 4 about 2,500. The image's URL or data is not counted.
* ``per_media`` 131,072 per video, audio or unknown part: these are bounded only by the model's context window
  (no prompt can be longer), and 131,072 is the largest window of the models in the price table.

Completion tokens are bounded by ``max_tokens`` per choice, so by ``max_tokens * n`` for a call (the ledger does
that multiplication). Templates with longer default system prompts, or tokenizers that normalise with NFD, need
larger allowances: build a :class:`Bounds` with them. If a bound is ever wrong, the ledger notices (usage above the
reservation) and stops admitting calls; see :meth:`wrapper._ledger._ledger.Ledger.settle_ok`.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Mapping, Sequence

import attrs

__all__ = ["Bounds", "json_bytes", "text_bytes"]

_IMAGE_PARTS = frozenset({"image_url", "input_image", "image"})
_HTML_ESCAPED = b"<>&'"  # Jinja's tojson writes each of these as a 6-byte \u00XX escape
_TOOL_ROLES = frozenset({"tool", "function"})
_CALL_KEYS = frozenset({"tool_calls", "function_call"})
_ROLE_IN_FRAMING = 9  # "assistant": per_message covers a role this long


def text_bytes(text: str) -> int:
    """Return the UTF-8 length of ``text`` as a tokenizer may see it: raw or NFC-normalised, whichever is longer.

    ASCII text is unchanged by NFC and costs one length lookup; lone surrogates count as 3 bytes each.
    """
    if text.isascii():
        return len(text)
    raw = len(text.encode("utf-8", "surrogatepass"))
    if unicodedata.is_normalized("NFC", text):
        return raw
    return max(raw, len(unicodedata.normalize("NFC", text).encode("utf-8", "surrogatepass")))


def json_bytes(value: object) -> int:
    """Return the most bytes a chat template's ``tojson`` (indent up to 4, either escaping) renders ``value`` in."""
    escaped = json.dumps(value, indent=4, default=str).encode("ascii")
    jinja = len(escaped) + 5 * (len(escaped) - len(escaped.translate(None, _HTML_ESCAPED)))
    if b"\\u" not in escaped:  # nothing non-ASCII: the raw rendering is the same bytes minus the HTML escapes
        return jinja
    return max(jinja, text_bytes(json.dumps(value, indent=4, ensure_ascii=False, default=str)))


@attrs.frozen
class Bounds:
    """The allowances of the worst-case prompt bound; the numbers and their reasons are in the module docstring."""

    per_request: int = 128
    per_message: int = 16
    per_tool_message: int = 32
    per_tool_call: int = 64
    per_tools: int = 512
    per_image: int = 16_448
    per_media: int = 131_072

    def prompt_tokens(self, messages: Sequence[Mapping[str, object]], tools: object = None,
                      response_format: object = None) -> int:
        """Return the most prompt tokens a request can be billed for.

        Args:
            messages: the messages as they will be sent (chat API dicts; content a string or a list of parts).
            tools: the request's ``tools``, if any.
            response_format: the request's ``response_format``, if any.
        """
        total = self.per_request
        for message in messages:
            total += self._message(message)
        if tools:
            total += self.per_tools + json_bytes(tools)
        if response_format:
            total += json_bytes(response_format)
        return total

    def _message(self, message: Mapping[str, object]) -> int:
        total = self.per_message
        for key, value in message.items():
            if value is None:
                continue
            if key == "role":
                if value in _TOOL_ROLES:
                    total += self.per_tool_message
                elif isinstance(value, str) and len(value) > _ROLE_IN_FRAMING:
                    total += text_bytes(value)
            elif isinstance(value, str):
                total += text_bytes(value)
            elif key == "content":
                total += self._content(value)
            else:
                total += json_bytes(value)
                if key in _CALL_KEYS:
                    total += self.per_tool_call * (len(value) if isinstance(value, list) else 1)
        return total

    def _content(self, content: object) -> int:
        parts = content if isinstance(content, (list, tuple)) else [content]
        total = 0
        for part in parts:
            if isinstance(part, str):
                total += text_bytes(part)
            elif not isinstance(part, Mapping):
                total += json_bytes(part)
            elif part.get("type") == "text":
                text = part.get("text")
                total += text_bytes(text) if isinstance(text, str) else json_bytes(text)
            elif part.get("type") in _IMAGE_PARTS:
                total += self.per_image
            else:  # video, audio, or a part type we do not know: bounded only by the context window
                total += self.per_media
        return total
