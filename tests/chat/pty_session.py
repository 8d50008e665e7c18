"""`retort chat` in a pseudo-terminal, as a person would use it (run by tests/chat.rs).

Usage: pty_session.py RETORT_BINARY MODEL_PATH

Types a message, presses Ctrl-C while the reply streams (the reply must stop and the prompt come
back), types /reset, then Ctrl-D at an empty prompt (the program must exit with status 0).
Prints "pty session: ok" when all of that happened.
"""
import os
import pty
import select
import sys
import time

binary, model = sys.argv[1], sys.argv[2]
pid, fd = pty.fork()
if pid == 0:
    os.execv(binary, [binary, "chat", "-m", model, "--temp", "0", "-n", "400", "--ctx", "1024",
                      "-t", "2", "--system", "You are a storyteller."])

seen = b""


def expect(needle, timeout=120.0, after=0):
    """Reads the terminal until `needle` appears after offset `after`; returns its end."""
    global seen
    deadline = time.monotonic() + timeout
    while True:
        at = seen.find(needle, after)
        if at >= 0:
            return at + len(needle)
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"timed out waiting for {needle!r}; the screen so far:\n"
                                 + seen.decode(errors="replace"))
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                chunk = b""
            if not chunk:
                raise AssertionError("the terminal closed; the screen so far:\n"
                                     + seen.decode(errors="replace"))
            seen += chunk


pos = expect(b">>> ")
os.write(fd, b"Tell me a long story about a dragon and a knight.\r")
pos = expect(b"\n", after=pos)
# Wait until the reply has streamed a few words, then press Ctrl-C.
start = pos
while len(seen[start:].split()) < 6:
    pos = expect(b" ", after=pos)
os.write(fd, b"\x03")
pos = expect(b"[stopped]", after=pos)
pos = expect(b">>> ", after=pos)
os.write(fd, b"/reset\r")
pos = expect(b"[conversation reset]", after=pos)
pos = expect(b">>> ", after=pos)
os.write(fd, b"\x04")
deadline = time.monotonic() + 60
while True:
    done, status = os.waitpid(pid, os.WNOHANG)
    if done:
        break
    if time.monotonic() > deadline:
        raise AssertionError("retort chat did not exit on Ctrl-D")
    try:
        select.select([fd], [], [], 0.2)
        os.read(fd, 4096)
    except OSError:
        time.sleep(0.1)
assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, status
print("pty session: ok")
