"""The official huggingface_hub InferenceClient (current release) against `text2sql serve`.

usage: python hf_inference_client.py BASE_URL EXPECT_JSON
Requests for different adapters run concurrently; every returned token id must equal the
engine's own solo greedy output for that adapter (EXPECT_JSON, written by the Rust test).
"""
import os

os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")  # before importing huggingface_hub

import huggingface_hub  # noqa: E402
from huggingface_hub import InferenceClient  # noqa: E402
from huggingface_hub.errors import HfHubHTTPError, ValidationError  # noqa: E402

from _common import assert_overlap, eq, load_args, run_concurrently, visible_text  # noqa: E402

BASE, EXPECT = load_args()
P, N = EXPECT["prompt"], EXPECT["max_new_tokens"]
client = InferenceClient(base_url=BASE)
ADAPTERS = list(EXPECT["generate"])  # e.g. ["qv", "pat", ""]


def kw(adapter):
    return {"adapter_id": adapter} if adapter else {}


def text_generation_details(adapter):
    exp = EXPECT["generate"][adapter]
    out = client.text_generation(P, details=True, max_new_tokens=N, **kw(adapter))
    eq(f"[{adapter}] text_generation ids", [t.id for t in out.details.tokens], exp["ids"])
    eq(f"[{adapter}] generated_tokens", out.details.generated_tokens, len(exp["ids"]))
    eq(f"[{adapter}] finish_reason", out.details.finish_reason, exp["finish_reason"])
    # POST / defaults to return_full_text=true (TGI for text-generation models)
    eq(f"[{adapter}] generated_text (full)", out.generated_text, P + exp["generated_text"])


def text_generation_plain(adapter):
    exp = EXPECT["generate"][adapter]
    txt = client.text_generation(P, max_new_tokens=N, return_full_text=False, **kw(adapter))
    eq(f"[{adapter}] text_generation text", txt, exp["generated_text"])


def text_generation_stream(adapter):
    exp = EXPECT["generate"][adapter]
    events = list(client.text_generation(P, stream=True, details=True, max_new_tokens=N, **kw(adapter)))
    eq(f"[{adapter}] stream indices", [e.index for e in events], list(range(1, len(events) + 1)))
    eq(f"[{adapter}] stream ids", [e.token.id for e in events], exp["ids"])
    eq(f"[{adapter}] stream token texts", [e.token.text for e in events], exp["texts"])
    last = events[-1]
    eq(f"[{adapter}] stream generated_text", last.generated_text, P + exp["generated_text"])
    eq(f"[{adapter}] stream finish_reason", last.details.finish_reason, exp["finish_reason"])
    eq(f"[{adapter}] stream generated_tokens", last.details.generated_tokens, len(exp["ids"]))
    assert last.details.input_length > 0
    assert all(e.generated_text is None and e.details is None for e in events[:-1])


def chat(adapter):
    exp = EXPECT["chat"][adapter]
    model = adapter or "tgi"
    r = client.chat_completion([{"role": "user", "content": P}], model=model, max_tokens=N, temperature=0,
                               logprobs=True)
    eq(f"[{adapter}] chat content", r.choices[0].message.content, exp["generated_text"])
    eq(f"[{adapter}] chat logprob tokens", [c.token for c in r.choices[0].logprobs.content], exp["texts"])
    eq(f"[{adapter}] chat completion_tokens", r.usage.completion_tokens, len(exp["ids"]))
    want_finish = {"eos_token": "stop"}.get(exp["finish_reason"], exp["finish_reason"])
    eq(f"[{adapter}] chat finish_reason", r.choices[0].finish_reason, want_finish)
    if adapter:
        eq(f"[{adapter}] chat model", r.model, adapter)


def chat_stream(adapter):
    exp = EXPECT["chat"][adapter]
    chunks = list(client.chat_completion([{"role": "user", "content": P}], model=adapter or "tgi", max_tokens=N,
                                         temperature=0, stream=True, stream_options={"include_usage": True}))
    content = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    eq(f"[{adapter}] chat stream content", content, visible_text(exp))
    eq(f"[{adapter}] chat stream usage", chunks[-1].usage.completion_tokens, len(exp["ids"]))


jobs = []
for a in ADAPTERS:
    for fn in (text_generation_details, text_generation_plain, text_generation_stream, chat, chat_stream):
        jobs.append((f"{a or 'base'}:{fn.__name__}", lambda fn=fn, a=a: fn(a)))
spans = run_concurrently(jobs)
named = [a for a in ADAPTERS if a]
assert_overlap(spans, named[0] + ":", named[1] + ":")
print(f"ok: {len(jobs)} concurrent requests over adapters {ADAPTERS} match solo greedy "
      f"(huggingface_hub {huggingface_hub.__version__})")

# hf_hub's error mapping: a 422 with error_type "validation" becomes ValidationError.
try:
    client.text_generation(P, adapter_id="no-such-adapter", max_new_tokens=4)
    raise AssertionError("unknown adapter_id was accepted")
except ValidationError as e:
    assert "no-such-adapter" in str(e), e
try:
    client.text_generation(P, max_new_tokens=100000)
    raise AssertionError("max_new_tokens over max_total_tokens was accepted")
except ValidationError as e:
    assert "max_new_tokens" in str(e), e
try:
    list(client.text_generation(P, adapter_id="no-such-adapter", max_new_tokens=4, stream=True))
    raise AssertionError("unknown adapter_id was accepted in a stream")
except ValidationError:
    pass  # in-stream {"error": ..., "error_type": "validation"} event
try:
    client.text_generation(P, top_p=1.0, max_new_tokens=4)
    raise AssertionError("top_p=1.0 was accepted")
except ValidationError:
    pass
# chat_completion raises the generic HTTP error with the 422 body in its message
try:
    client.chat_completion([{"role": "user", "content": P}], model="qv", max_tokens=4, top_p=1.0)
    raise AssertionError("chat top_p=1.0 was accepted")
except HfHubHTTPError as e:
    eq("chat 422 status", e.response.status_code, 422)
print("ok: error mapping (ValidationError for 422 and in-stream validation errors)")
