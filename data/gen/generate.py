#!/usr/bin/env python3
"""Generates podmedic's classifier corpus: data/train.jsonl and data/dev.jsonl.

    python3 data/gen/generate.py            # writes data/train.jsonl, data/dev.jsonl
    python3 data/gen/generate.py --check    # regenerates in memory, fails if the files differ

Each record is one log window (what `kubectl logs --previous` would show) with
its label:

    {"id": "train-00042", "class": "kv-cache-oom", "seed": "kv-vllm-maxlen-v0",
     "server": "vllm", "origin": "...", "augment": ["head-truncated"],
     "key": ["ValueError: The model's max seq len ..."], "text": "..."}

`key` lists the lines that carry the label's evidence (the seed's own lines
and Kubernetes context, not generated traceback frames or start-up lines);
training uses them for line-level supervision.

A window is: a start-up sequence of one server (servers.py) up to the stage
where the failure happens, benign noise lines, the seed's failure lines
(seeds.py) with a traceback in that server's code, the server's generic crash
tail, and optional Kubernetes context, then augmented (truncation,
reordering, duplication across ranks, kubectl/CRI timestamps, JSON lines,
ANSI colours, cut lines).

The split is by seed, not by window: every window of a seed lands in the
same split, so dev measures generalisation to phrasings the model never saw.
Noise lines are split too (every third noise template is dev-only).

Everything is a function of SEED; Python's `random.Random` is stable across
CPython versions for the methods used here (random, randrange, choice,
shuffle, sample, uniform).
"""

import argparse
import json
import math
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import fill, pick, window_context  # noqa: E402
from seeds import SEEDS  # noqa: E402
import seeds_more  # noqa: E402,F401  (registers more seeds)
import seeds_extra  # noqa: E402,F401  (registers yet more seeds)
from servers import NOISE, SERVERS, Clock  # noqa: E402

SEED = 20260101
DEV_FRACTION = 0.25
# Windows per class and split (unknown gets more: it is the negatives).
PER_CLASS = {"train": 230, "dev": 80}
UNKNOWN_FACTOR = 1.8

CLASSES = [
    "cuda-driver-mismatch",
    "kv-cache-oom",
    "gpu-oom",
    "host-oom",
    "weight-load-failure",
    "nccl-failure",
    "gpu-hardware-fault",
    "no-gpu-visible",
    "config-error",
    "startup-probe-kill",
    "unknown",
]
K8S_NEUTRAL = [
    "Events:",
    "  Type     Reason     Age                  From               Message",
    "  ----     ------     ----                 ----               -------",
    "  Normal   Scheduled  «age»                default-scheduler  Successfully assigned default/«host» to gpu-node-«small»",
    "  Normal   Pulled     «age»                kubelet            Container image already present on machine",
    "  Normal   Created    «age» (x«count» over «age»)  kubelet  Created container «container»",
    "  Normal   Started    «age» (x«count» over «age»)  kubelet  Started container «container»",
    "  Warning  BackOff    «age» (x«count» over «age»)  kubelet  Back-off restarting failed container «container» in pod «host»_default(«uuid»)",
]


def split_seeds(rng):
    by_class = {c: [s for s in SEEDS if s.cls == c] for c in CLASSES}
    split = {}
    for c in CLASSES:
        seeds = sorted(by_class[c], key=lambda s: s.id)
        if not seeds:
            raise SystemExit(f"no seeds for class {c}")
        rng.shuffle(seeds)
        n_dev = max(2, round(DEV_FRACTION * len(seeds)))
        for i, s in enumerate(seeds):
            split[s.id] = "dev" if i < n_dev else "train"
    return split


def render_block(seed, srv, rng):
    """The seed's own lines, rendered through the server, as (line, is_key):
    key lines carry the label's evidence; generated traceback frames and
    healthy start-up lines do not."""
    out = []
    for item in seed.lines:
        for raw in item.split("\n"):
            if raw == "TB":
                out.append(("Traceback (most recent call last):", False))
                out += [(l, False) for l in srv.frames(rng.randint(1, 4))]
            elif raw == "FR":
                out += [(l, False) for l in srv.frames(rng.randint(1, 3))]
            elif raw == "READY":
                out += [(l, False) for l in srv.ready()]
            elif raw == "SERVING":
                out += [(l, False) for l in srv.serving()]
            elif raw == "SHUTDOWN":
                out += [(l, False) for l in srv.shutdown()]
            elif raw[:3] in ("@I ", "@W ", "@E "):
                out += [(l, True) for l in srv.log(raw[1], raw[3:]).split("\n")]
            else:
                out.append((srv.f(raw), bool(raw.strip())))
    return out


def with_noise(lines, noise_pool, srv, rng, k):
    lines = list(lines)
    for _ in range(k):
        n = srv.f(pick(rng, noise_pool)).split("\n")
        at = rng.randrange(0, len(lines) + 1)
        lines[at:at] = n
    return lines


def is_frame(line):
    s = line.lstrip()
    return s.startswith('File "') and ", line " in s


def make_window(seed, server_name, rng, noise_pool):
    ctx = window_context(rng)
    clock = Clock(rng)
    srv = SERVERS[server_name](rng, ctx, clock)
    aug = []
    healthy = any(l in ("READY", "SERVING", "SHUTDOWN") for l in seed.lines)
    no_crash = healthy or seed.cls == "startup-probe-kill"

    stage = seed.stage
    pre_stage = "profile" if stage == "serve" else stage
    pre = srv.preamble(pre_stage)
    if stage == "serve" and not healthy:
        pre += srv.ready() + srv.serving()
    pre = with_noise(pre, noise_pool, srv, rng, rng.choice([0, 1, 1, 2, 3, 5, 8]))

    block_kv = render_block(seed, srv, rng)
    block = [l for l, _ in block_kv]
    keys = {l for l, k in block_kv if k}
    if block and rng.random() < 0.25 and any(is_frame(l) for l in block):
        # Only the tail of the traceback made it into the paste.
        kept = []
        skip_next = False
        for l in block:
            if skip_next:
                skip_next = False
                continue
            if is_frame(l):
                skip_next = True
                continue
            kept.append(l)
        block = kept
        aug.append("frames-dropped")
    prefix = srv.error_prefix() if hasattr(srv, "error_prefix") and not no_crash else ""
    if prefix and block:
        logged = [prefix + l for l in block]
        keys |= {prefix + l for l in keys}
        block = logged + (block if rng.random() < 0.5 else [])
        aug.append("logged-traceback")
    if block and not no_crash and ctx["tp_size"] > 1 and rng.random() < 0.2:
        r = rng.randrange(1, ctx["tp_size"])
        dup = [f"[rank{r}]: {l}" for l in block]
        keys = {f"[rank{i}]: {l}" for l in keys for i in (0, r)}
        block = [f"[rank0]: {l}" for l in block] + dup
        aug.append("rank-duplicated")

    tail = [] if no_crash else srv.crash_tail()
    if tail and rng.random() < 0.2:
        tail = []
        aug.append("tail-cut")
    after = [srv.f(l) for l in seed.after]
    keys |= {l for l in after if l.strip()}
    if not no_crash and not after and rng.random() < 0.12:
        # Neutral Kubernetes context pasted under the log.
        after = [srv.f(l) for l in K8S_NEUTRAL[: rng.randrange(2, len(K8S_NEUTRAL) + 1)]]
        aug.append("k8s-context")
    if after and rng.random() < 0.5:
        after = ["Events:", "  Type     Reason     Age   From     Message", "  ----     ------     ----  ----     -------"] + after

    lines = pre + block + tail
    if not no_crash and rng.random() < 0.2:
        # Other processes keep logging after the failure.
        lines = with_noise(lines, noise_pool, srv, rng, 0) + [srv.f(pick(rng, noise_pool)).split("\n")[0] for _ in range(rng.randrange(1, 4))]
        aug.append("trailing-noise")
    lines += after

    # Reordering: adjacent swaps outside the failure block (interleaved processes).
    if rng.random() < 0.25 and len(pre) > 4:
        for _ in range(rng.randrange(1, 4)):
            i = rng.randrange(0, len(pre) - 1)
            lines[i], lines[i + 1] = lines[i + 1], lines[i]
        aug.append("reordered")
    # Head truncation: only the last lines were captured.
    if rng.random() < 0.35:
        from_block = len(lines) - len(pre)
        keep = rng.randrange(from_block + 1, from_block + 40)
        if keep < len(lines):
            lines = lines[-keep:]
            aug.append("head-truncated")
    # A long line cut short (log shipper limits).
    if rng.random() < 0.1:
        longs = [i for i, l in enumerate(lines) if len(l) > 260]
        if longs:
            i = pick(rng, longs)
            lines[i] = lines[i][: rng.randrange(200, len(lines[i]))]
            aug.append("line-cut")
    # Transport formats (key lines are matched before these; normalisation undoes them).
    plain = list(lines)
    c = rng.random()
    if c < 0.08:
        stamped = []
        for l in lines:
            clock.tick(0.2)
            stamped.append(f"{clock.iso()} {l}")
        lines = stamped
        aug.append("kubectl-timestamps")
    elif c < 0.13:
        stamped = []
        for l in lines:
            clock.tick(0.2)
            stamped.append(f"{clock.iso()} {pick(rng, ['stdout', 'stderr'])} F {l}")
        lines = stamped
        aug.append("cri")
    elif c < 0.17:
        lines = [l.replace("ERROR", "\x1b[31mERROR\x1b[0m").replace("INFO", "\x1b[32mINFO\x1b[0m").replace("WARNING", "\x1b[33mWARNING\x1b[0m") for l in lines]
        aug.append("ansi")
    elif c < 0.20:
        js = []
        for l in lines:
            if l.strip() and rng.random() < 0.5:
                js.append(json.dumps({"ts": clock.iso(), "level": "info", "msg": l}))
            else:
                js.append(l)
        lines = js
        aug.append("json-lines")
    present = set(plain)
    key_lines = sorted(k for k in keys if k in present or any(k.startswith(l) for l in plain if len(l) >= 200))
    out_lines = lines
    return ctx, "\n".join(out_lines) + "\n", aug, key_lines


def generate():
    rng = random.Random(SEED)
    split = split_seeds(rng)
    noise = {"train": [n for i, n in enumerate(NOISE) if i % 3 != 0], "dev": [n for i, n in enumerate(NOISE) if i % 3 == 0]}
    out = {"train": [], "dev": []}
    for part in ("train", "dev"):
        for c in CLASSES:
            seeds = sorted([s for s in SEEDS if s.cls == c and split[s.id] == part], key=lambda s: s.id)
            target = PER_CLASS[part] * (UNKNOWN_FACTOR if c == "unknown" else 1.0)
            per_seed = max(2, math.ceil(target / len(seeds)))
            for s in seeds:
                for _ in range(per_seed):
                    server = pick(rng, s.servers)
                    ctx, text, aug, key = make_window(s, server, rng, noise[part])
                    out[part].append({
                        "class": c,
                        "seed": s.id,
                        "server": server,
                        "origin": f"{s.origin}; context: synthetic {server} log (data/gen/servers.py)",
                        "augment": aug,
                        "key": key,
                        "text": text,
                    })
        rng.shuffle(out[part])
        for i, r in enumerate(out[part]):
            r["id"] = f"{part}-{i:05d}"
    return out, split


def dump(records):
    keys = ["id", "class", "seed", "server", "origin", "augment", "key", "text"]
    return "".join(json.dumps({k: r[k] for k in keys}, ensure_ascii=False) + "\n" for r in records)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    ap.add_argument("--check", action="store_true", help="fail if the committed files differ from a fresh generation")
    args = ap.parse_args()
    out, split = generate()
    for part in ("train", "dev"):
        path = os.path.join(args.out, f"{part}.jsonl")
        text = dump(out[part])
        if args.check:
            with open(path, encoding="utf-8") as f:
                if f.read() != text:
                    raise SystemExit(f"{path} differs from a fresh generation")
        else:
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
    for part in ("train", "dev"):
        counts = {c: sum(1 for r in out[part] if r["class"] == c) for c in CLASSES}
        seeds = {c: sum(1 for s in SEEDS if s.cls == c and split[s.id] == part) for c in CLASSES}
        print(f"{part}: {len(out[part])} windows")
        for c in CLASSES:
            print(f"  {c:22s} {counts[c]:5d} windows from {seeds[c]:3d} seeds")


if __name__ == "__main__":
    main()
