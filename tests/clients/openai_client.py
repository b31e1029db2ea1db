"""The official `openai` package against `text2sql serve` (model = adapter id).

usage: python openai_client.py BASE_URL EXPECT_JSON
Chat and text completions, streamed and not, for every adapter concurrently; the text (and, for
chat with logprobs, every token) must equal the engine's own solo greedy output.
"""
import openai
from openai import OpenAI

from _common import assert_overlap, eq, load_args, run_concurrently, visible_text

BASE, EXPECT = load_args()
P, N = EXPECT["prompt"], EXPECT["max_new_tokens"]
oc = OpenAI(base_url=BASE + "/v1", api_key="-", max_retries=0)
ADAPTERS = list(EXPECT["generate"])


def model_of(adapter):
    return adapter or "tgi"  # "tgi" (TGI's docs) means the base model


def chat_finish(exp):
    return {"eos_token": "stop"}.get(exp["finish_reason"], exp["finish_reason"])


def chat(adapter):
    exp = EXPECT["chat"][adapter]
    r = oc.chat.completions.create(model=model_of(adapter), messages=[{"role": "user", "content": P}],
                                   max_tokens=N, temperature=0, logprobs=True)
    c = r.choices[0]
    eq(f"[{adapter}] chat content", c.message.content, exp["generated_text"])
    eq(f"[{adapter}] chat logprob tokens", [t.token for t in c.logprobs.content], exp["texts"])
    eq(f"[{adapter}] chat finish_reason", c.finish_reason, chat_finish(exp))
    eq(f"[{adapter}] chat usage", r.usage.completion_tokens, len(exp["ids"]))
    assert r.usage.prompt_tokens > 0 and r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens


def chat_stream(adapter):
    exp = EXPECT["chat"][adapter]
    chunks = list(oc.chat.completions.create(model=model_of(adapter), messages=[{"role": "user", "content": P}],
                                             max_tokens=N, temperature=0, stream=True,
                                             stream_options={"include_usage": True}))
    with_choices = [c for c in chunks if c.choices]
    eq(f"[{adapter}] chat stream content", "".join(c.choices[0].delta.content or "" for c in with_choices),
       visible_text(exp))
    eq(f"[{adapter}] chat stream finish", with_choices[-1].choices[0].finish_reason, chat_finish(exp))
    eq(f"[{adapter}] chat stream usage chunk", chunks[-1].choices, [])
    eq(f"[{adapter}] chat stream usage", chunks[-1].usage.completion_tokens, len(exp["ids"]))


def completion(adapter):
    exp = EXPECT["generate"][adapter]
    r = oc.completions.create(model=model_of(adapter), prompt=P, max_tokens=N, temperature=0)
    eq(f"[{adapter}] completion text", r.choices[0].text, exp["generated_text"])
    eq(f"[{adapter}] completion usage", r.usage.completion_tokens, len(exp["ids"]))


def completion_stream(adapter):
    exp = EXPECT["generate"][adapter]
    chunks = list(oc.completions.create(model=model_of(adapter), prompt=P, max_tokens=N, temperature=0, stream=True))
    eq(f"[{adapter}] completion stream text", "".join(c.choices[0].text for c in chunks), visible_text(exp))
    eq(f"[{adapter}] completion stream finish", chunks[-1].choices[0].finish_reason, exp["finish_reason"])


jobs = []
for a in ADAPTERS:
    for fn in (chat, chat_stream, completion, completion_stream):
        jobs.append((f"{a or 'base'}:{fn.__name__}", lambda fn=fn, a=a: fn(a)))
spans = run_concurrently(jobs)
named = [a for a in ADAPTERS if a]
assert_overlap(spans, named[0] + ":", named[1] + ":")

ids = [m.id for m in oc.models.list().data]
for a in named:
    assert a in ids, (a, ids)
try:
    oc.chat.completions.create(model="qv", messages=[{"role": "user", "content": P}], max_tokens=4, top_p=1.0)
    raise AssertionError("top_p=1.0 was accepted")
except openai.UnprocessableEntityError:
    pass
print(f"ok: {len(jobs)} concurrent openai {openai.__version__} requests over {ADAPTERS} match solo greedy")
