"""Helpers shared by the official-client scripts (run by crates/cli/tests/serve_*.rs).

Every script takes the server's base URL and a JSON file of reference outputs: the engine's own
solo greedy output per adapter id ("" = base model), computed by the Rust test.
"""
import json
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor


def load_args():
    base, expect_path = sys.argv[1], sys.argv[2]
    with open(expect_path, encoding="utf-8") as f:
        return base, json.load(f)


def eq(what, got, want):
    if got != want:
        raise AssertionError(f"{what}: got {got!r}, want {want!r}")


def visible_text(exp):
    """Concatenation of the non-special token texts (what a stream's deltas add up to)."""
    return "".join(t for t, s in zip(exp["texts"], exp["special"]) if not s)


def run_concurrently(jobs):
    """Runs `jobs` [(name, fn)] all at once (a barrier releases them together) and returns
    {name: (start, end)}; re-raises the first failure. Used to send requests for different
    adapters at the same time, so the server batches them together."""
    barrier = threading.Barrier(len(jobs))
    spans = {}

    def wrap(name, fn):
        barrier.wait()
        t0 = time.monotonic()
        fn()
        spans[name] = (t0, time.monotonic())

    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        futures = [pool.submit(wrap, name, fn) for name, fn in jobs]
        for f in futures:
            f.result()
    return spans


def assert_overlap(spans, a, b):
    """At least one job whose name starts with `a` overlapped in time with one starting with `b`."""
    for na, (sa, ea) in spans.items():
        for nb, (sb, eb) in spans.items():
            if na.startswith(a) and nb.startswith(b) and sa < eb and sb < ea:
                return
    raise AssertionError(f"no request for {a!r} ran concurrently with one for {b!r}: {spans}")
