"""Turn token ids back into text with the GGUF vocabulary alone (for eyeballing reference output).

- `tokenizer.ggml.model == "gpt2"`: each token is a string of GPT-2 "byte characters"; map every
  character back to its byte through the GPT-2 bytes-to-unicode table, then decode UTF-8.
- `tokenizer.ggml.model == "llama"` (SentencePiece): "▁" (U+2581) is a space, `<0xNN>` tokens are
  raw bytes; everything else is UTF-8 text.
Control tokens (token_type 3) are shown as their text, e.g. `<|im_end|>`.
"""


def gpt2_byte_decoder():
    """The inverse of GPT-2's bytes_to_unicode table: unicode char -> byte value."""
    printable = (
        list(range(ord("!"), ord("~") + 1))
        + list(range(ord("¡"), ord("¬") + 1))
        + list(range(ord("®"), ord("ÿ") + 1))
    )
    chars = list(printable)
    n = 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            chars.append(256 + n)
            n += 1
    return {chr(c): b for b, c in zip(printable, chars)}


class Vocab:
    """Decoder built from the GGUF metadata (key -> value)."""

    def __init__(self, fields):
        self.model = fields["tokenizer.ggml.model"]
        self.tokens = fields["tokenizer.ggml.tokens"]
        tt = fields.get("tokenizer.ggml.token_type")
        self.types = tt if tt is not None else [1] * len(self.tokens)
        self.byte_decoder = gpt2_byte_decoder() if self.model == "gpt2" else None

    def token_bytes(self, tid):
        tok = self.tokens[tid]
        if self.types[tid] == 3:  # control
            return tok.encode("utf-8")
        if self.model == "gpt2":
            try:
                return bytes(self.byte_decoder[c] for c in tok)
            except KeyError:
                return tok.encode("utf-8")
        if self.types[tid] == 6 or (len(tok) == 6 and tok.startswith("<0x") and tok.endswith(">")):
            return bytes([int(tok[3:5], 16)])
        return tok.replace("\u2581", " ").encode("utf-8")

    def decode(self, ids):
        return b"".join(self.token_bytes(i) for i in ids).decode("utf-8", errors="replace")
