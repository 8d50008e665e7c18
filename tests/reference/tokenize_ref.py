#!/usr/bin/env python3
"""Reference token ids and chat-template renderings for tests/tokenizer.rs.

Usage: tokenize_ref.py MODEL.gguf CORPUS.txt

Prints one JSON object on stdout:
  {"cases": [{"text": ..., "ids": [...], "ids_plain": [...]}, ...],
   "chat": [{"name": ..., "messages": [...], "add_generation_prompt": bool,
             "tools": [...] | null, "text": ...}, ...]}
where "ids" is `encode(text)` with the special tokens the vocabulary asks for (BOS...) and
"ids_plain" the same without them.

The oracle is Hugging Face `transformers` building its tokenizer from the GGUF file itself
(what `AutoTokenizer.from_pretrained(dir, gguf_file=name)` does), with its own conversion of
llama.cpp's vocabulary keys. transformers 5 reads GGUF metadata with a module that imports torch at
the top although metadata needs none; when torch is absent we stand in for that one module with a
small metadata reader below, keeping transformers' contract (string arrays left as their length
unless asked for). Everything that turns metadata into a tokenizer stays transformers' own.
"""

import importlib.util
import json
import os
import struct
import sys
import types


def fail(message):
    print(f"tokenize_ref.py: {message}", file=sys.stderr)
    sys.exit(2)


# GGUF metadata value types (gguf spec): fixed-width scalars as struct formats, 8 string, 9 array.
_SCALAR_FORMATS = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}


def read_gguf_metadata(gguf_path, string_arrays=()):
    """`(metadata, tensor_names)`: every metadata key, string arrays reduced to their length
    unless named in `string_arrays` (transformers' own reader does the same)."""
    with open(gguf_path, "rb") as f:
        blob = f.read(64 << 20)  # metadata of the models under test fits well within this
    if blob[:4] != b"GGUF":
        raise ValueError(f"{gguf_path} is not a GGUF file")
    version, tensor_count, kv_count = struct.unpack_from("<IQQ", blob, 4)
    pos = 24

    def read_string(pos):
        (length,) = struct.unpack_from("<Q", blob, pos)
        pos += 8
        return blob[pos : pos + length].decode("utf-8"), pos + length

    def read_value(pos, value_type, keep_strings):
        if value_type in _SCALAR_FORMATS:
            fmt = "<" + _SCALAR_FORMATS[value_type]
            return struct.unpack_from(fmt, blob, pos)[0], pos + struct.calcsize(fmt)
        if value_type == 8:
            return read_string(pos)
        if value_type == 9:
            element_type, count = struct.unpack_from("<IQ", blob, pos)
            pos += 12
            if element_type in _SCALAR_FORMATS:
                fmt = f"<{count}{_SCALAR_FORMATS[element_type]}"
                return list(struct.unpack_from(fmt, blob, pos)), pos + struct.calcsize(fmt)
            values = []
            for _ in range(count):
                value, pos = read_value(pos, element_type, keep_strings)
                values.append(value)
            if element_type == 8 and not keep_strings:
                return count, pos
            return values, pos
        raise ValueError(f"unknown GGUF value type {value_type}")

    metadata = {}
    for _ in range(kv_count):
        key, pos = read_string(pos)
        (value_type,) = struct.unpack_from("<I", blob, pos)
        metadata[key], pos = read_value(pos + 4, value_type, key in string_arrays)
    names = []
    for _ in range(tensor_count):
        name, pos = read_string(pos)
        (n_dims,) = struct.unpack_from("<I", blob, pos)
        pos += 4 + 8 * n_dims + 4 + 8
        names.append(name)
    return metadata, tuple(names)


def install_metadata_reader():
    """Stand in for transformers.integrations.gguf.reader when torch is absent."""
    if importlib.util.find_spec("torch") is not None:
        return
    module = types.ModuleType("transformers.integrations.gguf.reader")
    module.read_gguf_metadata = read_gguf_metadata
    sys.modules["transformers.integrations.gguf.reader"] = module


def load_reference_tokenizer(gguf_path):
    """What `AutoTokenizer.from_pretrained(dir, gguf_file=name)` builds for this file.

    AutoTokenizer first builds the model config from the GGUF (which needs torch for most
    architectures) only to pick the tokenizer class for the config's model type; we pick it from
    `general.architecture` the same way, then let that class read the GGUF.
    """
    from transformers import TokenizersBackend
    from transformers.models.auto.tokenization_auto import TOKENIZER_MAPPING_NAMES, tokenizer_class_from_name

    metadata, _ = read_gguf_metadata(gguf_path)
    class_name = TOKENIZER_MAPPING_NAMES.get(metadata["general.architecture"])
    tokenizer_class = tokenizer_class_from_name(class_name) if class_name else None
    if tokenizer_class is None:
        tokenizer_class = TokenizersBackend
    directory, name = os.path.split(os.path.abspath(gguf_path))
    tokenizer = tokenizer_class.from_pretrained(directory, gguf_file=name)

    # transformers' GGUF conversion has no split for the "smollm" pre-tokenizer family and falls
    # back to GPT-2's, which joins a space to the number after it (" ½"). SmolLM2's own
    # tokenizer.json isolates every digit first, then applies GPT-2's byte-level split, and so
    # does llama.cpp for this family; give the reference that pre-tokenizer.
    if metadata.get("tokenizer.ggml.pre") == "smollm":
        from tokenizers import pre_tokenizers

        tokenizer.backend_tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
            [
                pre_tokenizers.Digits(individual_digits=True),
                pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=True),
            ]
        )
    return tokenizer


def read_corpus(path):
    cases = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            cases.append(json.loads(line))
    return cases


# The conversations rendered through each model's chat template; tests/tokenizer.rs renders the
# same ones (it reads them back from this script's output).
CONVERSATIONS = [
    {
        "name": "two_turns",
        "messages": [
            {"role": "user", "content": "Hello! Who are you?"},
            {"role": "assistant", "content": "I am a small language model."},
        ],
        "add_generation_prompt": False,
        "tools": None,
    },
    {
        "name": "system_user_prompt",
        "messages": [
            {"role": "system", "content": "You answer briefly."},
            {"role": "user", "content": "What is 2+2?"},
        ],
        "add_generation_prompt": True,
        "tools": None,
    },
    {
        "name": "tools",
        "messages": [{"role": "user", "content": "Weather in Paris?"}],
        "add_generation_prompt": True,
        "tools": [
            {
                "type": "function",
                "function": {
                    "name": "get_weather",
                    "description": "Current weather for a city, in °C.",
                    "parameters": {
                        "type": "object",
                        "properties": {"city": {"type": "string"}},
                        "required": ["city"],
                    },
                },
            }
        ],
    },
    {
        "name": "tool_result",
        "messages": [
            {"role": "user", "content": "Weather in Paris?"},
            {
                "role": "assistant",
                "content": "",
                "tool_calls": [
                    {"type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris"}}}
                ],
            },
            {"role": "tool", "content": "{\"temp_c\": 21.5, \"sky\": \"clear\"}"},
        ],
        "add_generation_prompt": True,
        "tools": [
            {
                "type": "function",
                "function": {
                    "name": "get_weather",
                    "description": "Current weather for a city.",
                    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
                },
            }
        ],
    },
]


REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# Templates Retort uses when a GGUF has none, by general.architecture (see chat_template.rs).
FALLBACK_TEMPLATES = {"gemma3": "src/tokenizer/templates/gemma3.jinja"}


def main():
    if len(sys.argv) != 3:
        fail("usage: tokenize_ref.py MODEL.gguf CORPUS.txt")
    gguf_path, corpus_path = sys.argv[1], sys.argv[2]
    if not os.path.isfile(gguf_path):
        fail(f"model file not found: {gguf_path}")
    install_metadata_reader()
    try:
        import transformers  # noqa: F401
        from transformers.utils import logging as hf_logging
    except ImportError:
        fail("the python package `transformers` is missing (pip install transformers)")
    hf_logging.set_verbosity_error()

    tokenizer = load_reference_tokenizer(gguf_path)

    cases = []
    for text in read_corpus(corpus_path):
        cases.append(
            {
                "text": text,
                "ids": tokenizer.encode(text, add_special_tokens=True),
                "ids_plain": tokenizer.encode(text, add_special_tokens=False),
            }
        )

    if not tokenizer.chat_template:
        # Some conversions drop the template; Retort then falls back to the family's own
        # (src/tokenizer/templates/), and so does the reference.
        metadata, _ = read_gguf_metadata(gguf_path)
        fallback = FALLBACK_TEMPLATES.get(metadata["general.architecture"])
        if fallback is not None:
            with open(os.path.join(REPO_ROOT, fallback), encoding="utf-8") as f:
                tokenizer.chat_template = f.read()

    chat = []
    if tokenizer.chat_template:
        for conversation in CONVERSATIONS:
            if conversation["tools"] is not None and "tools" not in tokenizer.chat_template:
                continue
            rendered = tokenizer.apply_chat_template(
                conversation["messages"],
                tools=conversation["tools"],
                add_generation_prompt=conversation["add_generation_prompt"],
                tokenize=False,
            )
            chat.append(dict(conversation, text=rendered))

    json.dump({"cases": cases, "chat": chat}, sys.stdout, ensure_ascii=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
