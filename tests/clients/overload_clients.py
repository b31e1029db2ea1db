"""MAX_CONCURRENT_REQUESTS=1: while one stream is in flight, a second request is a 429
`overloaded`, which huggingface_hub maps to OverloadedError (also in-stream) and openai to
RateLimitError.

usage: python overload_clients.py BASE_URL
"""
import os

os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

import sys  # noqa: E402
import threading  # noqa: E402

import openai  # noqa: E402
from huggingface_hub import InferenceClient  # noqa: E402
from huggingface_hub.errors import OverloadedError  # noqa: E402

BASE = sys.argv[1]
P = "### Schema:\nCREATE TABLE users (id INT, name TEXT);\n\n### Question:\nHow many users?\n\nReturn only the SQL query."
client = InferenceClient(base_url=BASE)
oc = openai.OpenAI(base_url=BASE + "/v1", api_key="-", max_retries=0)


def attempt():
    """Holds the only permit with a long stream, then tries three more requests; returns the
    list of requests that were NOT refused (empty = all answered 429 as expected)."""
    started = threading.Event()
    result = {}

    def hold():
        n = 0
        for _ in client.text_generation(P, adapter_id="qv", max_new_tokens=150, stream=True, details=True):
            n += 1
            if n == 1:
                started.set()
        result["tokens"] = n

    t = threading.Thread(target=hold)
    t.start()
    assert started.wait(60)
    accepted = []
    try:
        client.text_generation(P, adapter_id="pat", max_new_tokens=4)
        accepted.append("text_generation")
    except OverloadedError:
        pass
    try:
        list(client.text_generation(P, adapter_id="pat", max_new_tokens=4, stream=True))
        accepted.append("text_generation(stream=True)")
    except OverloadedError:
        pass  # in-stream {"error_type": "overloaded"} event
    try:
        oc.completions.create(model="pat", prompt=P, max_tokens=4)
        accepted.append("openai completions")
    except openai.RateLimitError as e:
        assert e.status_code == 429
    t.join()
    assert result["tokens"] == 150, result  # the held request itself is unaffected
    return accepted


# The held stream lasts a few hundred ms on the tiny model; on a very loaded machine it could end
# before the three probes ran, so a run with an accepted probe is retried (a server that never
# answers 429 fails all attempts).
for i in range(3):
    accepted = attempt()
    if not accepted:
        break
    print(f"attempt {i + 1}: accepted while the permit should be taken: {accepted}")
else:
    raise AssertionError(f"MAX_CONCURRENT_REQUESTS=1 never refused a second request: {accepted}")
# the permit is back: the next request is served
assert client.text_generation(P, adapter_id="pat", max_new_tokens=4, details=True).details.generated_tokens > 0
print("ok: 429 overloaded -> OverloadedError / RateLimitError, permit released afterwards")
