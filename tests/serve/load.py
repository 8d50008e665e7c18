"""A bounded load test of `retort serve` (run by tests/serve.rs; also the benchmark's driver).

Usage: load.py BASE_URL MODEL_ID SERVER_PID [REQUESTS=200] [CLIENTS=8] [MAX_TOKENS=8]

Sends REQUESTS chat completions from CLIENTS threads: a mix of single questions and
conversations extending an earlier answer (which the server's prompt cache should reuse), half
of them streamed. Every answer must equal the one the same request got when sent alone first
(temperature 0), or be a 503 with Retry-After (the client then waits that long, as a polite
client does). Prints one JSON line: counts (ok, busy_503, wrong, lost), the server's RSS at the
50th and the last request, requests/s, generated tokens/s, time to first token of the streamed
requests, and the prompt-cache figures from /health.
"""
import http.client
import json
import sys
import threading
import time
from urllib.parse import urlparse

base, model, pid = sys.argv[1], sys.argv[2], int(sys.argv[3])
total = int(sys.argv[4]) if len(sys.argv) > 4 else 200
clients = int(sys.argv[5]) if len(sys.argv) > 5 else 8
max_tokens = int(sys.argv[6]) if len(sys.argv) > 6 else 8
url = urlparse(base)
SYSTEM = {"role": "system", "content": "You are a helpful assistant. Answer briefly."}
QUESTIONS = [
    "What is the capital of Italy?",
    "Name a large animal.",
    "What colour is the sky?",
    "Say hello in French.",
    "What is two plus two?",
]


def connect():
    return http.client.HTTPConnection(url.hostname, url.port, timeout=300)


def post(body, stream):
    """Returns (status, text, completion_tokens, ttft_seconds, retry_after)."""
    body = dict(body, model=model, temperature=0, max_tokens=max_tokens, stream=stream)
    if stream:
        body["stream_options"] = {"include_usage": True}
    conn = connect()
    t0 = time.monotonic()
    conn.request("POST", "/v1/chat/completions", json.dumps(body),
                 {"Content-Type": "application/json"})
    r = conn.getresponse()
    if r.status != 200:
        data = r.read()
        conn.close()
        return r.status, data.decode(errors="replace"), 0, None, r.getheader("Retry-After")
    if not stream:
        v = json.loads(r.read())
        conn.close()
        return 200, v["choices"][0]["message"]["content"], v["usage"]["completion_tokens"], None, None
    text, tokens, ttft, done = [], 0, None, False
    for raw in r:
        line = raw.decode().rstrip("\n")
        if not line.startswith("data: "):
            continue
        data = line[len("data: "):]
        if data == "[DONE]":
            done = True
            break
        v = json.loads(data)
        if "error" in v:
            raise RuntimeError(v)
        if v.get("usage"):
            tokens = v["usage"]["completion_tokens"]
        for c in v["choices"]:
            piece = c["delta"].get("content")
            if piece:
                if ttft is None:
                    ttft = time.monotonic() - t0
                text.append(piece)
    conn.close()
    if not done:
        raise RuntimeError("the stream ended without [DONE]")
    return 200, "".join(text), tokens, ttft, None


def rss_kib():
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


def health():
    conn = connect()
    conn.request("GET", "/health")
    v = json.loads(conn.getresponse().read())
    conn.close()
    return v


# The distinct requests, and each one's answer when sent alone.
bodies = [{"messages": [SYSTEM, {"role": "user", "content": q}]} for q in QUESTIONS]
expected = []
for b in list(bodies):
    status, text, _, _, _ = post(b, False)
    assert status == 200, text
    expected.append(text)
for i, q in enumerate(QUESTIONS[:3]):
    follow = {"messages": [SYSTEM, {"role": "user", "content": q},
                           {"role": "assistant", "content": expected[i]},
                           {"role": "user", "content": "Why?"}]}
    status, text, _, _, _ = post(follow, False)
    assert status == 200, text
    bodies.append(follow)
    expected.append(text)

lock = threading.Lock()
state = {"next": 0, "done": 0, "ok": 0, "busy_503": 0, "wrong": 0, "lost": 0, "tokens": 0,
         "rss50": None, "ttft": [], "errors": []}


def worker():
    while True:
        with lock:
            i = state["next"]
            if i >= total:
                return
            state["next"] += 1
        k = (i * 7) % len(bodies)
        stream = i % 2 == 1
        outcome, tokens, ttft, wait = "lost", 0, None, 0
        try:
            status, text, tokens, ttft, retry = post(bodies[k], stream)
            if status == 200:
                outcome = "ok" if text == expected[k] else "wrong"
                if outcome == "wrong":
                    state["errors"].append((k, text, expected[k]))
            elif status == 503 and retry:
                outcome, wait = "busy_503", int(retry)
            else:
                state["errors"].append((status, text))
        except Exception as e:  # noqa: BLE001 - a lost request is what is counted
            state["errors"].append(repr(e))
        with lock:
            state[outcome] += 1
            state["tokens"] += tokens
            if ttft is not None:
                state["ttft"].append(ttft)
            state["done"] += 1
            if state["done"] == 50:
                state["rss50"] = rss_kib()
        if wait:
            time.sleep(wait)


t0 = time.monotonic()
threads = [threading.Thread(target=worker) for _ in range(clients)]
for t in threads:
    t.start()
for t in threads:
    t.join()
elapsed = time.monotonic() - t0
rss_last = rss_kib()
h = health()
ttft = sorted(state["ttft"])


def pct(p):
    return round(ttft[min(len(ttft) - 1, int(p * len(ttft)))] * 1e3, 1) if ttft else None


print(json.dumps({
    "requests": total, "clients": clients, "max_tokens": max_tokens,
    "ok": state["ok"], "busy_503": state["busy_503"], "wrong": state["wrong"],
    "lost": state["lost"], "errors": state["errors"][:5],
    "rss_kib_at_50": state["rss50"], "rss_kib_at_last": rss_last,
    "elapsed_s": round(elapsed, 2),
    "answered_per_s": round(state["ok"] / elapsed, 2),
    "generated_tokens_per_s": round(state["tokens"] / elapsed, 1),
    "ttft_ms_p50": pct(0.5), "ttft_ms_p90": pct(0.9),
    "prompt_cache": h["prompt_cache"],
}))
