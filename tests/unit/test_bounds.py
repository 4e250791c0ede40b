"""The worst-case bound: never below what a byte-level or byte-fallback tokenizer emits; it alone decides admission.

The tokenizers are trained here, in memory, in milliseconds (no hub download): a byte-level BPE with NFC
normalisation (the shape of Qwen2.5's) and a SentencePiece-style byte-fallback BPE. The chat templates are small
re-implementations of Qwen2.5's (ChatML, default system prompt, tool blocks) and Llama 3.1's (date header, tools
in the first user turn with ``tojson(indent=4)``), so the allowances are checked against whole rendered prompts.
"""

# ruff: noqa: RUF001  # full-width commas, curly quotes and look-alike letters are the point of the samples

from __future__ import annotations

import functools
import json
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

from wrapper import BudgetBoundExceeded, BudgetExceededError, Event
from wrapper._ledger._bounds import Bounds, json_bytes, text_bytes
from wrapper._ledger._estimator import Estimate, Estimator
from wrapper._ledger._ledger import Ledger
from wrapper._ledger._pricing import Price, PriceTable
from wrapper._ledger._settle import Reservation
from wrapper._ledger._store import MemoryStore

Message = Mapping[str, Any]
MODEL = "acme/m"
PRICES = PriceTable().with_overrides({MODEL: Price(10, 10)})  # 1,000 tokens cost 0.01 USD
QWEN_SPECIALS = ["<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>"]
LLAMA_SPECIALS = ["<|begin_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>", "<|eom_id|>"]
QWEN_SYSTEM = "You are Qwen, created by Alibaba Cloud. You are a helpful assistant."
QWEN_TOOLS_HEAD = ("\n\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\nYou are "
                   "provided with function signatures within <tools></tools> XML tags:\n<tools>")
QWEN_TOOLS_TAIL = ("\n</tools>\n\nFor each function call, return a json object with function name and arguments "
                   "within <tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>, "
                   "\"arguments\": <args-json-object>}\n</tool_call>")
LLAMA_TOOLS_HEAD = ("Given the following functions, please respond with a JSON for a function call with its proper "
                    "arguments that best answers the given prompt.\n\nRespond in the format {\"name\": function name, "
                    "\"parameters\": dictionary of argument name and its value}.Do not use variables.\n\n")
QWEN_IMAGE_TOKENS = 16_384  # Qwen2.5-VL's most patches per image, besides the start/end markers

CORPUS = [
    "The quick brown fox jumps over the lazy dog, and then it rests. " * 30,
    "def area(radius: float) -> float:\n    return 3.14159 * radius ** 2\n" * 20,
    '{"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}}\n' * 20,
    "我们今天去公园散步，天气很好。" * 20,
    "Numbers: 12 345 6789 2026-11-29 3.14159 " * 20,
]
SAMPLES = {
    "prose": "Please summarise the following paragraph in one sentence, keeping the names. " * 8,
    "digits": "31415926535897932384626433832795028841971693993751058209749445923078164062862089986280" * 12,
    "code": "for (int i = 0; i < n; ++i) { acc += a[i] * b[i]; }\nreturn acc >> 3; // done\n" * 8,
    "json": json.dumps({"rows": [{"id": i, "ok": i % 2 == 0, "tags": ["x", "y"]} for i in range(20)]}),
    "chinese": "北京是中华人民共和国的首都，也是全国的政治、文化中心。" * 10,
    "rare cjk": "𠀀𠀁𠀂𪚥𪜀𫝀𬺰" * 10,
    "emoji": "😀🎉👍🏽👨‍👩‍👧‍👦🇫🇷🤖" * 10,
    "nfc expands": "\U0001D160\U0001D15E\u0958\uFB2C" * 10,
    "mixed": "Ω≈ç√∫˜µ≤≥÷ naïve café résumé Ünïcödé; Привет мир; مرحبا; नमस्ते; 0x1F600 \t\n\r" * 4,
}


def _train(tok: Tokenizer, trainer: trainers.BpeTrainer, specials: list[str]) -> Tokenizer:
    tok.train_from_iterator(CORPUS, trainer)
    tok.add_special_tokens(specials)
    return tok


@functools.cache
def byte_level() -> Tokenizer:
    """A byte-level BPE with NFC normalisation, the shape of Qwen2.5's tokenizer."""
    tok = Tokenizer(models.BPE())
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=600, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    return _train(tok, trainer, QWEN_SPECIALS + LLAMA_SPECIALS)


@functools.cache
def byte_fallback() -> Tokenizer:
    """A SentencePiece-style BPE: known characters, else one ``<0xNN>`` token per UTF-8 byte; a ``▁`` prefix."""
    tok = Tokenizer(models.BPE(byte_fallback=True))
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    trainer = trainers.BpeTrainer(vocab_size=600, special_tokens=[f"<0x{b:02X}>" for b in range(256)],
                                  limit_alphabet=100, show_progress=False)
    tok = _train(tok, trainer, QWEN_SPECIALS + LLAMA_SPECIALS)
    assert tok.token_to_id("▁") is not None  # the space marker is a known character, as in every real model
    return tok


TOKENIZERS = {"byte-level": byte_level, "byte-fallback": byte_fallback}


def count(tokenizer: str, text: str) -> int:
    """Tokens the named tokenizer emits for ``text`` (special tokens in it count as one each)."""
    return len(TOKENIZERS[tokenizer]().encode(text, add_special_tokens=False).ids)


def _text(content: object) -> tuple[str, int]:
    """The text of a message's content and its image count (a list of parts is joined, as templates do)."""
    if content is None:
        return "", 0
    if isinstance(content, str):
        return content, 0
    parts = list(content) if isinstance(content, list) else []
    text = "".join(p["text"] for p in parts if p.get("type") == "text")
    return text, sum(1 for p in parts if p.get("type") == "image_url")


def _arguments(call: Mapping[str, Any]) -> object:
    """A tool call's arguments as a template sees them: parsed when they are a JSON string, else as given."""
    raw = call["function"]["arguments"]
    try:
        return json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        return raw


def render_qwen(messages: Sequence[Message], tools: list[Any] | None = None) -> tuple[str, int]:
    """Qwen2.5's ChatML prompt (images as markers; returns the image count to add their patch tokens)."""
    out, images = [], 0
    first_system = bool(messages) and messages[0]["role"] == "system"
    system = _text(messages[0]["content"])[0] if first_system else QWEN_SYSTEM
    if tools:
        out.append("<|im_start|>system\n" + system + QWEN_TOOLS_HEAD)
        out += ["\n" + json.dumps(t, ensure_ascii=False) for t in tools]
        out.append(QWEN_TOOLS_TAIL + "<|im_end|>\n")
    elif not first_system:
        out.append("<|im_start|>system\n" + system + "<|im_end|>\n")
    for i, m in enumerate(messages):
        text, found = _text(m.get("content"))
        images += found
        text = "<|vision_start|><|vision_end|>" * found + text
        if i == 0 and first_system and tools:
            continue
        if m["role"] == "tool":
            out.append("<|im_start|>user\n<tool_response>\n" + text + "\n</tool_response><|im_end|>\n")
        elif m["role"] == "assistant" and m.get("tool_calls"):
            out.append("<|im_start|>assistant" + ("\n" + text if text else ""))
            for call in m["tool_calls"]:
                args = json.dumps(_arguments(call), ensure_ascii=False)
                out.append('\n<tool_call>\n{"name": "' + call["function"]["name"] + '", "arguments": ' + args
                           + "}\n</tool_call>")
            out.append("<|im_end|>\n")
        else:
            out.append("<|im_start|>" + m["role"] + "\n" + text + "<|im_end|>\n")
    out.append("<|im_start|>assistant\n")
    return "".join(out), images


def render_llama(messages: Sequence[Message], tools: list[Any] | None = None) -> tuple[str, int]:
    """Llama 3.1's prompt: the date header, tools (``tojson(indent=4)``, Jinja escaping) in the first user turn."""
    first_system = bool(messages) and messages[0]["role"] == "system"
    system = _text(messages[0]["content"])[0] if first_system else ""
    out = ["<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n"
           + ("Environment: ipython\n" if tools else "")
           + "Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n" + system + "<|eot_id|>"]
    rest = list(messages[1:] if first_system else messages)
    tools_pending = bool(tools)
    for m in rest:
        text = _text(m.get("content"))[0]
        role = "ipython" if m["role"] == "tool" else m["role"]
        if tools_pending and m["role"] == "user":
            escaped = [json.dumps(t, indent=4).replace("<", "\\u003c").replace(">", "\\u003e")
                       .replace("&", "\\u0026").replace("'", "\\u0027") for t in tools or []]
            text = LLAMA_TOOLS_HEAD + "".join(e + "\n\n" for e in escaped) + text
            tools_pending = False
        if m["role"] == "assistant" and m.get("tool_calls"):
            call = m["tool_calls"][0]
            text = ('{"name": "' + call["function"]["name"] + '", "parameters": '
                    + json.dumps(_arguments(call)) + "}")
        out.append("<|start_header_id|>" + role + "<|end_header_id|>\n\n" + text + "<|eot_id|>")
    out.append("<|start_header_id|>assistant<|end_header_id|>\n\n")
    return "".join(out), 0


RENDERERS = {"qwen": render_qwen, "llama": render_llama}


def billed(tokenizer: str, template: str, messages: Sequence[Message], tools: list[Any] | None = None) -> int:
    """The prompt tokens a server with this tokenizer and template would bill."""
    prompt, images = RENDERERS[template](messages, tools)
    return count(tokenizer, prompt) + images * QWEN_IMAGE_TOKENS


def user(text: str) -> list[Message]:
    """A one-message prompt."""
    return [{"role": "user", "content": text}]


WEATHER = [{"type": "function", "function": {
    "name": "get_weather", "description": "Weather for a city <b>now</b> & tomorrow; ‘quotes’ 'too' — 天气 🌦",
    "parameters": {"type": "object", "properties": {"city": {"type": "string", "description": "e.g. Zürich"},
                                                    "days": {"type": "integer", "minimum": 1}},
                   "required": ["city"]}}}]
CONVERSATIONS: dict[str, tuple[list[Message], list[Any] | None]] = {
    "system and user": ([{"role": "system", "content": "You answer in French."},
                         {"role": "user", "content": SAMPLES["prose"]}], None),
    "multi-part": ([{"role": "user", "name": "bob_the_builder", "content": [
        {"type": "text", "text": SAMPLES["chinese"]}, {"type": "text", "text": SAMPLES["emoji"]}]}], None),
    "image": ([{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
                                            {"type": "text", "text": "What is in this picture?"}]}], None),
    "tool round trip": ([
        {"role": "user", "content": "Weather in Zürich for 3 days? <quick>"},
        {"role": "assistant", "content": None, "tool_calls": [{"id": "call_9f8e7d", "type": "function", "function": {
            "name": "get_weather", "arguments": json.dumps({"city": "Zürich", "days": 3, "note": "<&'>"})}}]},
        {"role": "tool", "tool_call_id": "call_9f8e7d", "name": "get_weather",
         "content": json.dumps({"temp_c": [3, 5, 4], "sky": "☁️ bewölkt"}, ensure_ascii=False)},
        {"role": "user", "content": "And in 北京?"}], WEATHER),
    "many short turns": ([{"role": "user" if i % 2 == 0 else "assistant", "content": "ok"} for i in range(40)], None),
    "empty content": ([{"role": "user", "content": ""}], None),
}


@pytest.mark.parametrize("tokenizer", TOKENIZERS)
@pytest.mark.parametrize("kind", SAMPLES)
def test_text_bytes_are_never_below_the_tokens(tokenizer: str, kind: str) -> None:
    """Prose, digits, code, JSON, Chinese, rare CJK, emoji, NFC-expanding and mixed text: tokens <= bytes (+1 for
    the byte-fallback tokenizer's dummy-prefix space, which the per-message allowance covers)."""
    text = SAMPLES[kind]
    prefix = 1 if tokenizer == "byte-fallback" else 0
    assert count(tokenizer, text) <= text_bytes(text) + prefix


@pytest.mark.parametrize("tokenizer", TOKENIZERS)
@pytest.mark.parametrize("template", RENDERERS)
@pytest.mark.parametrize("kind", SAMPLES)
def test_one_message_bound_covers_a_whole_rendered_prompt(tokenizer: str, template: str, kind: str) -> None:
    """With the default system prompt, the turn framing and the reply priming, a one-message prompt never bills
    more tokens than its bound."""
    messages = user(SAMPLES[kind])
    assert billed(tokenizer, template, messages) <= Bounds().prompt_tokens(messages)


@pytest.mark.parametrize("tokenizer", TOKENIZERS)
@pytest.mark.parametrize("template", RENDERERS)
@pytest.mark.parametrize("name", CONVERSATIONS)
def test_conversation_bound_covers_tools_parts_images_and_names(tokenizer: str, template: str, name: str) -> None:
    """Tool definitions, tool calls and results, names, multi-part content, images and many turns: the rendered
    prompt never bills more than the bound."""
    messages, tools = CONVERSATIONS[name]
    assert billed(tokenizer, template, messages, tools) <= Bounds().prompt_tokens(messages, tools)


@pytest.mark.parametrize("kind", ["digits", "rare cjk", "emoji"])
def test_bytes_are_the_real_worst_case_for_unseen_text(kind: str) -> None:
    """Text the byte-level tokenizer never saw in training costs about one token per byte: the bound is tight,
    and any estimate that assumes fewer tokens per byte can be beaten."""
    text = SAMPLES[kind]
    assert count("byte-level", text) >= 0.5 * text_bytes(text)


@settings(max_examples=150, deadline=None, database=None)  # no .hypothesis/ folder left behind
@given(texts=st.lists(st.text(max_size=300), min_size=1, max_size=4), tokenizer=st.sampled_from(list(TOKENIZERS)),
       template=st.sampled_from(list(RENDERERS)))
def test_random_unicode_never_beats_the_bound(texts: list[str], tokenizer: str, template: str) -> None:
    """Any Unicode text (surrogates aside, which cannot be sent as JSON), in any number of turns, stays under the
    bound on both tokenizers and both templates."""
    messages = [{"role": "user" if i % 2 == 0 else "assistant", "content": t} for i, t in enumerate(texts)]
    assert billed(tokenizer, template, messages) <= Bounds().prompt_tokens(messages)


def test_text_bytes_counts_utf8_after_nfc_and_lone_surrogates() -> None:
    """ASCII is its length; CJK 3 bytes a character, emoji 4; NFC's expansions count; a lone surrogate is 3."""
    assert (5, 6, 4, 12, 3) == (text_bytes("hello"), text_bytes("北京"), text_bytes("😀"), text_bytes("\U0001D160"),
                                text_bytes("\ud800"))


def test_json_is_measured_as_templates_may_render_it() -> None:
    """Tools JSON counts at least its indent=4 rendering, and Jinja's 6-byte escapes of < > & ' and of non-ASCII."""
    value = {"a": "<&'>", "b": ["x"]}
    assert json_bytes(value) >= len(json.dumps(value, indent=4)) + 4 * 5
    assert json_bytes({"c": "é"}) >= len(json.dumps({"c": "é"}, indent=4))


def test_each_field_and_part_adds_to_the_bound() -> None:
    """Names, tool-call ids, tool calls, tools, response_format, images and media each raise the bound by at least
    their bytes or their allowance; image URLs and audio data are not counted as text."""
    b = Bounds()
    base = b.prompt_tokens(user("hi"))
    named = [{"role": "user", "content": "hi", "name": "alice"}]
    assert base + 5 == b.prompt_tokens(named)
    tool_result = [{"role": "tool", "content": "hi", "tool_call_id": "call_1"}]
    assert base + b.per_tool_message + 6 == b.prompt_tokens(tool_result)
    calls = [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}] * 2
    with_calls = [{"role": "assistant", "content": "hi", "tool_calls": calls}]
    assert b.prompt_tokens(with_calls) >= base + 2 * b.per_tool_call + len(json.dumps(calls))
    assert b.prompt_tokens(user("hi"), WEATHER) >= base + b.per_tools + len(json.dumps(WEATHER))
    schema = {"type": "json_schema", "json_schema": {"name": "r", "schema": {"type": "object"}}}
    assert b.prompt_tokens(user("hi"), response_format=schema) >= base + len(json.dumps(schema))
    huge_url = {"type": "image_url", "image_url": {"url": "data:image/png;base64," + "A" * 100_000}}
    audio = {"type": "input_audio", "input_audio": {"data": "B" * 100_000, "format": "wav"}}
    parts = [{"role": "user", "content": [{"type": "text", "text": "hi"}, huge_url, audio]}]
    assert base + b.per_image + b.per_media == b.prompt_tokens(parts)
    assert b.prompt_tokens([{"role": "a_very_long_custom_role", "content": "hi"}]) > base


def test_bounds_are_configurable() -> None:
    """A template with a longer default system prompt gets a larger per-request allowance."""
    assert Bounds().prompt_tokens(user("hi")) + 1000 == Bounds(per_request=1128).prompt_tokens(user("hi"))


# ------------------------------------------------------------------ the ledger: admission and the overrun alert
def ledger(limit: str | None = "1", events: list[Event] | None = None) -> Ledger:
    """A memory-store ledger with a fixed clock and a 10 USD / 1M tokens price."""
    return Ledger(store=MemoryStore(), prices=PRICES, limit=None if limit is None else Decimal(limit),
                  run_id="run-b", on_event=events.append if events is not None else None, clock=lambda: 1.0)


def ok(led: Ledger, r: Reservation, prompt: int | None, completion: int | None) -> Decimal | None:
    """Settle a success with the given usage."""
    return led.settle_ok(r, usage_prompt=prompt, usage_completion=completion, request_id="req-1", latency_s=0.1,
                         attempt=1)


def test_estimate_carries_the_bound_and_the_expected_cost() -> None:
    """cost is the bound's price (prompt bound + max_tokens x n); expected_cost is the estimator's, never above."""
    led = ledger()
    messages = user(SAMPLES["prose"])
    est = led.estimate(MODEL, messages, 100, n=3)
    assert (Bounds().prompt_tokens(messages), 300) == (est.prompt_tokens, est.max_completion_tokens)
    assert Decimal(10) * (est.prompt_tokens + 300) / 1_000_000 == est.cost
    assert est.expected_prompt_tokens == Estimator().estimate_prompt_tokens(MODEL, messages)
    assert est.expected_cost is not None and est.cost is not None and est.expected_cost < est.cost


def test_expected_never_exceeds_the_bound() -> None:
    """An estimator that learned one token per unit counts a digit as 3 tokens, more than its byte: capped."""
    led = ledger()
    for _ in range(3):
        led.estimator.learn(MODEL, 1_000, 1_000)
    est = led.estimate(MODEL, user(SAMPLES["digits"]), 1)
    assert est.expected_prompt_tokens == est.prompt_tokens and est.expected_cost == est.cost


def test_estimates_built_by_hand_default_expected_to_the_bound() -> None:
    """Code that builds an Estimate with the old four fields gets expected == worst case."""
    est = Estimate(model=MODEL, prompt_tokens=5, max_completion_tokens=7, cost=Decimal("0.1"))
    assert (5, Decimal("0.1")) == (est.expected_prompt_tokens, est.expected_cost)


def test_admission_reserves_the_bound_not_the_expected_cost() -> None:
    """A limit that fits the expected cost but not the worst case refuses the call; the reservation is the bound,
    however optimistic the learned estimator has become."""
    led = ledger()
    messages = user(SAMPLES["digits"])
    for _ in range(5):  # the estimator learns a prose-like ratio: far too optimistic for digits
        led.estimator.learn(MODEL, 10_000, 1_500)
    est = led.estimate(MODEL, messages, 100)
    assert est.expected_cost is not None and est.cost is not None and est.expected_cost < est.cost
    assert led.reserve(est).amount == est.cost
    tight = ledger(str((est.expected_cost + est.cost) / 2))
    with pytest.raises(BudgetExceededError):
        tight.reserve(tight.estimate(MODEL, messages, 100))


def test_usage_within_the_bound_raises_no_alert() -> None:
    """Usage at or below the reservation, or missing usage (charged as the bound), is no overrun."""
    events: list[Event] = []
    led = ledger(events=events)
    est = led.estimate(MODEL, user("hello"), 50)
    ok(led, led.reserve(est), est.prompt_tokens, 50)
    ok(led, led.reserve(est), None, None)
    assert led.halted is None and not [e for e in events if isinstance(e, BudgetBoundExceeded)]
    led.reserve(est)


def test_an_overrun_alerts_and_stops_admission_for_the_run() -> None:
    """Usage above the reservation emits BudgetBoundExceeded with the numbers, is still committed, and every later
    reserve() raises BudgetExceededError that says the bound was exceeded and what to do."""
    events: list[Event] = []
    led = ledger(events=events)
    est = led.estimate(MODEL, user("hello"), 50)
    open_call = led.reserve(est)
    over = led.reserve(est)
    cost = ok(led, over, est.prompt_tokens + 500, 50)
    alerts = [e for e in events if isinstance(e, BudgetBoundExceeded)]
    assert 1 == len(alerts)
    alert = alerts[0]
    assert (alert.run_id, alert.model, alert.request_id) == ("run-b", MODEL, "req-1")
    assert (alert.reserved, alert.cost) == (est.cost, cost)
    assert (alert.prompt_tokens, alert.prompt_bound, alert.completion_tokens, alert.completion_bound) == (
        est.prompt_tokens + 500, est.prompt_tokens, 50, 50)
    assert led.halted == alert and led.totals().committed == cost
    with pytest.raises(BudgetExceededError, match="worst-case reservation") as refused:
        led.reserve(est)
    assert "admits no new calls" in str(refused.value) and "Bounds" in str(refused.value)
    ok(led, open_call, 10, 10)  # calls already admitted still settle
    assert Decimal(0) == led.totals().reserved


def test_without_a_budget_an_overrun_alerts_but_does_not_halt() -> None:
    """With no budget there is no promise to protect: the event fires, calls continue."""
    events: list[Event] = []
    led = ledger(None, events)
    est = led.estimate(MODEL, user("hello"), 50)
    ok(led, led.reserve(est), est.prompt_tokens + 1, 50)
    assert [type(e) for e in events] == [BudgetBoundExceeded] and led.halted is None
    led.reserve(est)
