"""What the lab's stand-ins share: every call is recorded, as a JSON line, for the lab tests.
The stand-ins live in test/ and reach a node only through the lab's package source; no image
imgforge builds for a user carries them."""
import json
import os
import sys
import time

CALLS = os.environ.get("IMGFORGE_STANDIN_CALLS", "/var/lib/imgforge-standins/calls.jsonl")


def record(tool, outcome, args=None, **extra):
    """One line per call: the tool, its arguments (a long-running server's only at its start), the outcome."""
    os.makedirs(os.path.dirname(CALLS), exist_ok=True)
    line = {"tool": tool, "args": sys.argv[1:] if args is None else args, "outcome": outcome, "time": time.time(), **extra}
    with open(CALLS, "a", encoding="utf-8") as f:
        f.write(json.dumps(line) + "\n")
        f.flush()
        os.fsync(f.fileno())


def fail(tool, message, code=1):
    record(tool, "refused", message=message)
    sys.stderr.write(message.rstrip("\n") + "\n")
    sys.exit(code)
