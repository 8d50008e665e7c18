"""The official OpenAI Python client against `retort serve --watermark` (run by tests/serve.rs).

Usage: watermark_client.py BASE_URL MODEL_ID KEY_ID; prints "watermark client: ok" when every
check passed: the extra `watermark` field of a completion and of a stream's last chunk, and
`POST /v1/verify` (through the client's own HTTP layer) finding the mark.
"""
import sys

import openai

base, model, key_id = sys.argv[1], sys.argv[2], sys.argv[3]
client = openai.OpenAI(base_url=base + "/v1", api_key="unused", max_retries=0, timeout=300)

messages = [{"role": "user", "content": "Write a long story about a fox who learns to sail."}]
whole = client.chat.completions.create(
    model=model, messages=messages, temperature=0.8, seed=21, max_tokens=120
)
mark = whole.model_extra["watermark"]
assert mark["key_id"] == key_id and mark["carried"] and mark["marked_tokens"] > 0, mark
text = whole.choices[0].message.content

last = None
for chunk in client.chat.completions.create(
    model=model, messages=messages, temperature=0.8, seed=21, max_tokens=120, stream=True
):
    if chunk.choices and chunk.choices[0].finish_reason:
        last = chunk
assert last is not None and last.model_extra["watermark"]["key_id"] == key_id, last

verdict = client.post("/verify", body={"text": text}, cast_to=object)
assert verdict["watermarked"] is True and verdict["key_id"] == key_id, verdict
assert verdict["p_value"] <= 1e-6, verdict

try:
    client.post("/verify", body={"text": text, "fpr": 5}, cast_to=object)
    raise AssertionError("fpr 5 was accepted")
except openai.BadRequestError as e:
    assert e.param == "fpr", e.body

print("watermark client: ok")
