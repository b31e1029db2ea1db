"""The seed doc's Python example (shared/seed/huggingface_deploy.md §6.2), verbatim except:
ENDPOINT_URL comes from argv[1], and max_new_tokens is argv[2] (the doc's 256 does not fit the
tiny test model's 256 positions). Needs huggingface_hub<0.31 (InferenceClient.post was removed
in 0.31): run with the .venv-seed python. After the snippet, the raw response is checked and
printed as one JSON line for the Rust test.
"""
import os
import sys

os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

from huggingface_hub import InferenceClient

ENDPOINT_URL = sys.argv[1]

client = InferenceClient(
    base_url=ENDPOINT_URL,
    api_key="hf_your_token_here",
)

schema = """CREATE TABLE orders (
  id INTEGER PRIMARY KEY,
  customer_id INTEGER,
  amount NUMERIC,
  created_at TIMESTAMP
);"""

question = "Total order amount per customer for the last 7 days."

prompt = f"""### Schema:
{schema}

### Question:
{question}

Return only the SQL query."""

response = client.post(
    json={
        "inputs": prompt,
        "parameters": {
            "adapter_id": "text2sql-qlora",
            "max_new_tokens": int(sys.argv[2]),
            "temperature": 0.0,
        },
    }
)

print(response)

# --- checks (not part of the seed snippet) ---
import json  # noqa: E402

assert isinstance(response, bytes), type(response)
data = json.loads(response)
assert isinstance(data, list) and len(data) == 1, data
assert data[0]["generated_text"].startswith(prompt), data
print("RESULT " + json.dumps({"prompt": prompt, "response": data}))
