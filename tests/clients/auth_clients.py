"""API_KEY: the official clients with the right key work, with a wrong key get 401 errors.

usage: python auth_clients.py BASE_URL KEY
"""
import os

os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

import openai  # noqa: E402
from huggingface_hub import InferenceClient  # noqa: E402
from huggingface_hub.errors import HfHubHTTPError  # noqa: E402
import sys  # noqa: E402

BASE, KEY = sys.argv[1], sys.argv[2]
P = "### Schema:\nCREATE TABLE t (a INT);\n\n### Question:\nCount rows.\n\nReturn only the SQL query."

good = InferenceClient(base_url=BASE, api_key=KEY)
out = good.text_generation(P, adapter_id="qv", max_new_tokens=4, details=True)
assert out.details.generated_tokens > 0
r = good.chat_completion([{"role": "user", "content": P}], model="qv", max_tokens=4, temperature=0)
assert r.usage.completion_tokens > 0

for bad in (InferenceClient(base_url=BASE, api_key="hf_wrong_key"), InferenceClient(base_url=BASE)):
    for call in (lambda c: c.text_generation(P, adapter_id="qv", max_new_tokens=4),
                 lambda c: c.chat_completion([{"role": "user", "content": P}], model="qv", max_tokens=4)):
        try:
            call(bad)
            raise AssertionError("request without the right key was accepted")
        except HfHubHTTPError as e:
            assert e.response.status_code == 401, e.response.status_code

ok = openai.OpenAI(base_url=BASE + "/v1", api_key=KEY, max_retries=0)
r = ok.chat.completions.create(model="pat", messages=[{"role": "user", "content": P}], max_tokens=4, temperature=0)
assert r.usage.completion_tokens > 0
assert ok.completions.create(model="pat", prompt=P, max_tokens=4, temperature=0).usage.completion_tokens > 0
assert any(m.id == "pat" for m in ok.models.list().data)
wrong = openai.OpenAI(base_url=BASE + "/v1", api_key="sk-wrong", max_retries=0)
for call in (lambda: wrong.chat.completions.create(model="pat", messages=[{"role": "user", "content": P}], max_tokens=4),
             lambda: wrong.completions.create(model="pat", prompt=P, max_tokens=4),
             lambda: list(wrong.chat.completions.create(model="pat", messages=[{"role": "user", "content": P}],
                                                        max_tokens=4, stream=True))):
    try:
        call()
        raise AssertionError("openai request with a wrong key was accepted")
    except openai.AuthenticationError as e:
        assert e.status_code == 401
print("ok: right key accepted, wrong/missing key -> 401 (huggingface_hub and openai)")
