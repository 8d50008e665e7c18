"""The official OpenAI Python client against `retort serve` (run by tests/serve.rs).

Usage: openai_client.py BASE_URL MODEL_ID; prints "openai client: ok" when every check passed.
"""
import sys

import openai

base, model = sys.argv[1], sys.argv[2]
client = openai.OpenAI(base_url=base + "/v1", api_key="unused", max_retries=0, timeout=300)

ids = [m.id for m in client.models.list().data]
assert ids == [model], ids

messages = [
    {"role": "system", "content": "You are a helpful assistant."},
    {"role": "user", "content": "Name three colours of the rainbow."},
]
whole = client.chat.completions.create(
    model=model, messages=messages, temperature=0, seed=7, max_tokens=24
)
text = whole.choices[0].message.content
assert text and whole.choices[0].message.role == "assistant", whole
assert whole.choices[0].finish_reason in ("stop", "length"), whole
u = whole.usage
assert u.prompt_tokens > 0 and u.completion_tokens > 0, u
assert u.total_tokens == u.prompt_tokens + u.completion_tokens, u

# Streamed at temperature 0 with the same seed: the same text, piece by piece.
pieces, finish, usage, roles = [], None, None, []
stream = client.chat.completions.create(
    model=model, messages=messages, temperature=0, seed=7, max_tokens=24,
    stream=True, stream_options={"include_usage": True},
)
for chunk in stream:
    if chunk.usage is not None:
        usage = chunk.usage
    for choice in chunk.choices:
        if choice.delta.role:
            roles.append(choice.delta.role)
        if choice.delta.content:
            pieces.append(choice.delta.content)
        if choice.finish_reason:
            finish = choice.finish_reason
assert "".join(pieces) == text, ("".join(pieces), text)
assert len(pieces) > 1, pieces
assert roles == ["assistant"], roles
assert finish == whole.choices[0].finish_reason, finish
assert usage is not None and usage.completion_tokens == u.completion_tokens, usage
# The same prompt again: the slot's cache held it.
assert usage.prompt_tokens_details.cached_tokens > 0, usage

# A stop sequence cuts the text before its first occurrence.
k = len(text) // 2
stop = text[k:k + 3]
cut = client.chat.completions.create(
    model=model, messages=messages, temperature=0, max_tokens=24, stop=[stop]
)
assert cut.choices[0].message.content == text[: text.index(stop)], (cut, stop, text)
assert cut.choices[0].finish_reason == "stop", cut

# Plain completions.
c = client.completions.create(model=model, prompt="The capital of France is", max_tokens=8,
                              temperature=0)
assert c.choices[0].text.strip(), c
assert c.usage.completion_tokens == 8 or c.choices[0].finish_reason == "stop", c

# Errors arrive as the client's typed exceptions, naming the field.
try:
    client.chat.completions.create(model=model, messages=messages, temperature=5)
    raise AssertionError("temperature 5 was accepted")
except openai.BadRequestError as e:
    assert e.param == "temperature", e.body
try:
    client.chat.completions.create(model="no-such-model", messages=messages)
    raise AssertionError("an unknown model was accepted")
except openai.NotFoundError as e:
    assert e.code == "model_not_found", e.body

print("openai client: ok")
