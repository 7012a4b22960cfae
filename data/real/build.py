#!/usr/bin/env python3
"""Builds podmedic's real-world crash-log corpus from the gathered raw records.

    python3 data/real/build.py            # rewrites the files listed below
    python3 data/real/build.py --check    # rebuilds in memory, fails if the committed files differ
    python3 data/real/build.py --list-unchecked   # records whose evidence had to be found by the lexicon

Input: `data/real/raw/*.jsonl` (one record per line, gathered from public
issue threads by hand with a search tool; format and class definitions in
`data/real/README.md`) and `data/real/review.jsonl` (the label review: one
decision per line, applied before anything else).

Steps, each deterministic:

1. **Read** every raw file in name order. A record needs `source`, `class`,
   `text`; `label_confidence` below 0.6 is dropped.
2. **Review**: each `review.jsonl` entry names a record by `source` and the
   first characters of the SHA-256 of its normalised text (`text_sha`, or
   `"*"` for every record of that thread) and relabels it (`class`,
   `subclass`), drops it (`drop`), or replaces its evidence lines (`key`),
   always with a `reason`.
3. **Validate**: the class is one of the 11 podmedic classes or
   `engine-stalled`; every `key` line occurs verbatim in `text`. A record
   tagged `no-evidence` (its excerpt does not show the cause) is not a
   labelled example. A labelled record without `key` gets its evidence lines
   from a small per-class lexicon (`EVIDENCE` below); when none is found the
   record is excluded as `no-evidence-found` (list them with
   `--list-unchecked` to review by hand).
4. **Deduplicate**: records with the same normalised text (the same log
   gathered twice, by one or two gatherers) keep one copy; if the copies'
   labels disagree and no review entry settles it, all are excluded as
   `conflicting-labels`. Within one thread, an excerpt contained in a longer
   excerpt of the same thread is dropped.
5. **Split by thread**: threads that share a log are grouped (union-find);
   each group goes to `train` (60%), `dev` (20%) or `test` (20%) by the
   SHA-256 of `SALT` + its smallest `source`, so a thread never moves between
   splits as records are added. `SALT` was chosen once, among 0..199, as the
   one whose split was closest to 60/20/20 in every class on the first wave
   of records; it is fixed.
6. **Write**: `train.jsonl`, `dev.jsonl`, `test.jsonl` (labelled crash logs
   and hard negatives, podmedic's 11 classes), `stalled.jsonl` (the
   `engine-stalled` slice: not crash logs; their `class` is `unknown`, the
   answer expected from the log alone, and `corpus_class` keeps the label),
   `excluded.jsonl` (everything left out, with `excluded` saying why: never
   used for training or scoring), and `STATS.md` (the counts).

Each written record:

    {"id": "real-3f2a9c01de", "class": "kv-cache-oom", "subclass": "...",
     "source": "vllm-project/vllm#14574", "url": "...", "server": "vllm",
     "family": "vllm", "split": "train", "seed": "<group key>",
     "label_confidence": 0.9, "why": "...", "tags": [...],
     "key": ["<evidence line>"], "key_source": "gatherer|lexicon|review",
     "origin": "<url>", "text": "..."}

`seed` is the thread group (the unit of the split); `family` groups servers
for the leave-one-server-out evaluation (`podmedic eval --loso`).
"""

import argparse
import glob
import hashlib
import json
import os
import re
import sys
import unicodedata
from collections import Counter, defaultdict

HERE = os.path.dirname(os.path.abspath(__file__))
RAW = os.path.join(HERE, "raw")
REVIEW = os.path.join(HERE, "review.jsonl")

SALT = "podmedic-real-"  # + the salt number chosen once, see step 5
SALT_NO = None  # filled below by SALT_CHOSEN
SALT_CHOSEN = 100
SPLITS = (("train", 60), ("dev", 80), ("test", 100))
MIN_CONFIDENCE = 0.6

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
STALLED = "engine-stalled"

# Server -> family for the leave-one-server-out sets.
FAMILIES = {
    "vllm": "vllm",
    "sglang": "sglang",
    "tgi": "tgi",
    "tei": "tgi",
    "triton": "triton-trtllm",
    "tensorrt-llm": "triton-trtllm",
    "nim": "triton-trtllm",
    "ollama": "ollama-llamacpp",
    "llama.cpp": "ollama-llamacpp",
    "pytorch": "pytorch",
    "transformers": "pytorch",
    "nvidia-driver": "nvidia",
    "nvidia-device-plugin": "nvidia",
    "gpu-operator": "nvidia",
    "kubernetes": "platform",
    "kserve": "platform",
    "ray-serve": "platform",
    "lmdeploy": "other",
    "other": "other",
}

# Lines that show a class's cause (ASCII case-insensitive), used only to
# check records gathered before the `key` field existed. Deliberately broad:
# a record passes when one of its lines reads like the cause the label names.
EVIDENCE = {
    "cuda-driver-mismatch": [
        r"driver version is insufficient",
        r"driver on your system is too old",
        r"driver/library version mismatch",
        r"forward compatibility was attempted",
        r"no kernel image is available",
        r"not compatible with the current pytorch installation",
        r"unsatisfied condition: cuda",
        r"cuda_error_(?:unsupported_ptx_version|system_driver_mismatch|compat_not_supported)",
        r"unsupported ptx version|ptx was compiled with an unsupported toolchain",
        r"cuda driver version .*(?:older|too old|insufficient)",
        r"requires? (?:a )?(?:newer|minimum) (?:nvidia )?driver",
        r"system has unsupported display driver",
        r"cudaErrorInsufficientDriver|cudaErrorSystemDriverMismatch|cudaErrorUnsupportedPtxVersion",
        r"unsupported gpu architecture|sm_\d+ is not (?:compatible|supported)|not supported on (?:this|your) (?:gpu|device)",
        r"nvml.*(?:mismatch|version)",
        r"invalid device function",
        r"cuda error:? .*(?:driver|compat)",
    ],
    "kv-cache-oom": [
        r"no available memory for the cache blocks",
        r"larger than the maximum number of tokens that can be stored in kv cache",
        r"kv cache is needed, which is larger than",
        r"# ?gpu blocks: 0\b|num_gpu_blocks=0|gpu blocks: 0",
        r"not enough memory\. please try to increase --mem-fraction-static",
        r"mem-fraction-static",
        r"max_total_num_tokens",
        r"not enough memory to handle",
        r"max_batch_(?:total|prefill)_tokens",
        r"insufficient kv cache|kv cache (?:is )?(?:too small|insufficient|full)",
        r"cache_max_entry_count|no enough blocks|not enough blocks",
        r"estimated maximum model length",
        r"kv cache memory",
        r"out of memory.*kv|kv.*out of memory",
    ],
    "gpu-oom": [
        r"cuda out of memory",
        r"outofmemoryerror",
        r"out of memory",
        r"cublas_status_alloc_failed",
        r"cudamalloc.*fail|failed to allocate",
        r"cudaErrorMemoryAllocation|cuda_error_out_of_memory",
        r"tried to allocate",
        r"\boom\b",
        r"memory allocation (?:of .* )?failed",
        r"not enough (?:gpu|device|vram|video) memory|insufficient (?:gpu|vram)",
    ],
    "host-oom": [
        r"oomkilled",
        r"exit code:? 137|exitcode:? -9|exit status 137|signal 9|sigkill",
        r"^\s*killed\s*$|\bkilled\b",
        r"defaultcpuallocator",
        r"bad_alloc",
        r"memory pressure|oom killer|oom-kill|out of memory: kill",
        r"cannot allocate memory",
        r"memory cgroup out of memory",
        r"\boom\b",
        r"ray.*(?:killed|memory)",
    ],
    "weight-load-failure": [
        r"\b40[134]\b|gated repo|repository not found|repositorynotfound|entrynotfound|revisionnotfound",
        r"unauthorized|access to model .* is restricted|invalid (?:user )?token|authentication",
        r"no such file|not found|does not exist|doesn't exist|does not appear to have|couldn't find|could not find|cannot find|can't find|unable to find|missing",
        r"safetensor|headertoolarge|incomplete metadata|central directory|pytorchstreamreader|unexpected eof|truncated|corrupt",
        r"no space left on device",
        r"size mismatch|shape mismatch|wrong (?:number of tensors|shape)|unexpected key|missing key",
        r"architectures?.*(?:not supported|are not supported)|not supported for now|unsupported (?:model|architecture)|unknown (?:model )?architecture",
        r"offline|connection|resolve|timed? ?out|max retries|ssl|proxy|network|huggingface\.co|localentrynotfound|cannot reach",
        r"failed to load model|error loading model|unable to load model|failed to (?:read|open)|llama_model_load|gguf|digest|pull|manifest",
        r"permission denied|read-only file system",
        r"error fetching files|fetching",
        r"valueerror: .*(?:tokenizer|model|config|checkpoint|weight|tensor)|keyerror|oserror",
        r"unrecognized model|model type|checkpoint",
        r"quantization|quant",
    ],
    "nccl-failure": [
        r"nccl",
        r"watchdog caught collective operation timeout|collective operation timeout",
        r"/dev/shm|shared memory|shm",
        r"gloo|connection (?:closed|reset|refused) by|socket|ibv_|infiniband|\bib\b",
        r"bus error",
        r"timed? ?out.*(?:allreduce|all_reduce|barrier|broadcast|collective)",
        r"process ?group|distributed|rendezvous|c10d|torch\.distributed",
    ],
    "gpu-hardware-fault": [
        r"\bxid\b",
        r"fallen off the bus|fell off the bus",
        r"uncorrectable ecc|ecc error|ecc_uncorrectable|double bit|retired pages|row remap",
        r"gpu (?:requires|needs) reset|gpu is lost|reset required",
        r"gsp|rpc timeout|nvlink|pcie|hardware|unknown error|illegal (?:memory )?(?:access|instruction)",
        r"cuda error: (?:an )?(?:unspecified launch failure|uncorrectable)|launch failure",
        r"unhealthy|nvrm|err!",
        r"gpu.*(?:lost|hang|crash|fault|failed|error)",
    ],
    "no-gpu-visible": [
        r"no cuda gpus are available",
        r"found no nvidia driver",
        r"cuda_visible_devices",
        r"device string must not be empty",
        r"driver not loaded|could not select device driver|no devices were found|nvidia-smi.*(?:fail|not found)",
        r"(?:failed to initialize|could not load) nvml|libnvidia-ml|nvml",
        r"no compatible gpus|no gpu|gpu not found|cuda is not available|cuda not available|torch\.cuda\.is_available|cpu only|cuda (?:device|driver) .*(?:not|no)",
        r"failed to infer device type|device type",
        r"cudaerrornodevice|cuda_error_no_device|no cuda-capable device|cuda driver initialization failed|cuda initialization|cuinit",
        r"nvidia\.com/gpu|insufficient nvidia|unexpectedadmissionerror",
        r"libcuda|libnvidia|nvidia driver|driver",
        r"assertion.*cuda|torch not compiled with cuda",
        r"rocm|hip|amd|intel|xpu|mps",
    ],
    "config-error": [
        r"unrecognized arguments?|invalid choice|invalid value|invalid argument|unexpected keyword|unknown (?:argument|option|flag)|error: argument",
        r"must (?:be )?divi|divisible|not divisible",
        r"bfloat16|compute capability|dtype|float16|half",
        r"address already in use|port",
        r"required|must be|should be|must set|must specify|not set",
        r"invalid|not supported|unsupported|is not a valid|cannot be|can only|expected",
        r"config|configuration|yaml|json|pbtxt|parse|parsing",
        r"valueerror|typeerror|assertionerror|keyerror|error:",
        r"quantization|parser|template|tokenizer",
    ],
    "startup-probe-kill": [
        r"(?:startup|liveness|readiness) probe failed",
        r"failed (?:startup|liveness|readiness) probe",
        r"will be restarted|killing",
        r"unhealthy",
        r"probe",
    ],
    STALLED: [r".*"],
}
EVIDENCE_RE = {c: [re.compile(p, re.I) for p in ps] for c, ps in EVIDENCE.items()}


def norm_text(text):
    """The text with line endings, trailing spaces and blank edges unified."""
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))
    return "\n".join(line.rstrip() for line in text.split("\n")).strip("\n")


def dedupe_key(text):
    """Whitespace-insensitive form for duplicate detection."""
    return re.sub(r"\s+", " ", text).strip()


def sha(text, n=10):
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:n]


def warn(msg):
    print(f"build.py: {msg}", file=sys.stderr)


def read_raw():
    recs = []
    for path in sorted(glob.glob(os.path.join(RAW, "*.jsonl"))):
        name = os.path.basename(path)
        with open(path, encoding="utf-8") as fh:
            for no, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    r = json.loads(line)
                except json.JSONDecodeError as e:
                    # A file still being appended to may end mid-line.
                    warn(f"{name}:{no}: not JSON ({e}); skipped")
                    continue
                if not all(isinstance(r.get(k), str) and r.get(k) for k in ("source", "class", "text")):
                    warn(f"{name}:{no}: missing source, class or text; skipped")
                    continue
                r["_raw"] = f"{name}:{no}"
                r["text"] = norm_text(r["text"])
                r["_sha"] = sha(dedupe_key(r["text"]), 64)
                recs.append(r)
    return recs


def read_review():
    out = []
    if not os.path.exists(REVIEW):
        return out
    with open(REVIEW, encoding="utf-8") as fh:
        for no, line in enumerate(fh, 1):
            if not line.strip() or line.lstrip().startswith("//"):
                continue
            e = json.loads(line)
            if not e.get("reason") or not (e.get("id") or (e.get("source") and e.get("text_sha"))):
                raise SystemExit(f"review.jsonl:{no}: every entry needs a reason and an id (or source and text_sha)")
            e["_no"] = no
            e["_used"] = 0
            out.append(e)
    return out


def apply_review(recs, review):
    for r in recs:
        for e in review:
            if e.get("id"):
                if e["id"] != record_id(r):
                    continue
            elif e["source"] != r["source"]:
                continue
            elif e["text_sha"] != "*" and not r["_sha"].startswith(e["text_sha"]):
                continue
            e["_used"] += 1
            r.setdefault("review", []).append(e["reason"])
            if e.get("drop"):
                r["_excluded"] = "review: " + e["reason"]
            if "class" in e:
                r["_orig_class"] = r["class"]
                r["class"] = e["class"]
                if "subclass" in e:
                    r["subclass"] = e["subclass"]
                # A review relabel settles duplicates' disagreement.
                r["_reviewed_class"] = True
            if "key" in e:
                r["key"] = e["key"]
                r["_key_source"] = "review"
            if "key_grep" in e:
                found = [ln for ln in r["text"].split("\n") if any(g in ln for g in e["key_grep"])]
                if not found:
                    warn(f"review.jsonl:{e['_no']}: key_grep {e['key_grep']} finds no line")
                r["key"] = found[:6]
                r["_key_source"] = "review"
            if "label_confidence" in e:
                r["label_confidence"] = e["label_confidence"]
            if "tags" in e:
                r["tags"] = e["tags"]
    for e in review:
        if e["_used"] == 0:
            warn(f"review.jsonl:{e['_no']}: matches no record ({e.get('id') or e['source']})")


def evidence_lines(r):
    """Lines matching the class's lexicon, most specific pattern first (the
    lexicon lists its patterns from specific to broad), then in log order."""
    pats = EVIDENCE_RE.get(r["class"], [])
    found = []
    for no, line in enumerate(r["text"].split("\n")):
        if not line.strip():
            continue
        rank = next((i for i, p in enumerate(pats) if p.search(line)), None)
        if rank is not None:
            found.append((rank, no, line))
    found.sort()
    return [line for _, _, line in found]


def validate(recs):
    for r in recs:
        if r.get("_excluded"):
            continue
        c = r["class"]
        if c not in CLASSES and c != STALLED:
            r["_excluded"] = f"unknown-class {c}"
            continue
        conf = r.get("label_confidence", 0.8)
        if not isinstance(conf, (int, float)) or conf < MIN_CONFIDENCE:
            r["_excluded"] = f"label-confidence {conf}"
            continue
        if "no-evidence" in r.get("tags", []) and c != "unknown":
            r["_excluded"] = "no-evidence (tagged by the gatherer)"
            continue
        text = r["text"]
        key = [norm_text(k) for k in (r.get("key") or []) if isinstance(k, str) and k.strip()]
        bad = [k for k in key if k not in text]
        if bad:
            # Gatherers were told to copy key lines verbatim; a miss is an error to fix in review.
            r["_excluded"] = f"key-not-in-text {bad[0][:80]!r}"
            continue
        if key:
            r["key"] = key
            r.setdefault("_key_source", "gatherer")
        elif c in ("unknown", STALLED):
            r["key"] = []
            r["_key_source"] = "none"
        else:
            found = evidence_lines(r)
            if not found:
                r["_excluded"] = "no-evidence-found (no key, no lexicon line)"
                continue
            r["key"] = found[:3]
            r["_key_source"] = "lexicon"
        if r.get("server") not in FAMILIES:
            warn(f"{r['_raw']}: server {r.get('server')!r} not in FAMILIES; family `other`")


def better(a, b):
    """Which of two copies of one log to keep: with key, more confident, earlier file."""
    ka = (a.get("_key_source") == "gatherer", a.get("label_confidence", 0), -recs_order[a["_raw"]])
    kb = (b.get("_key_source") == "gatherer", b.get("label_confidence", 0), -recs_order[b["_raw"]])
    return a if ka >= kb else b


recs_order = {}


def dedupe(recs):
    live = [r for r in recs if not r.get("_excluded")]
    by_text = defaultdict(list)
    for r in live:
        by_text[r["_sha"]].append(r)
    for copies in by_text.values():
        if len(copies) == 1:
            continue
        classes = {r["class"] for r in copies}
        reviewed = {r["class"] for r in copies if r.get("_reviewed_class")}
        if len(classes) > 1 and len(reviewed) != 1:
            for r in copies:
                r["_excluded"] = "conflicting-labels " + "/".join(sorted(classes))
            continue
        if len(classes) > 1:
            keep_class = reviewed.pop()
            for r in copies:
                if r["class"] != keep_class:
                    r["_excluded"] = "duplicate (label overruled by review)"
            copies = [r for r in copies if r["class"] == keep_class]
        keep = copies[0]
        for r in copies[1:]:
            keep = better(keep, r)
        for r in copies:
            if r is not keep:
                r["_excluded"] = "duplicate of " + keep["_raw"]
                keep.setdefault("_also", []).append(r["_raw"])
    # An excerpt contained in a longer excerpt of the same thread.
    by_source = defaultdict(list)
    for r in recs:
        if not r.get("_excluded"):
            by_source[r["source"]].append(r)
    for rs in by_source.values():
        rs.sort(key=lambda r: -len(r["text"]))
        for i, short in enumerate(rs):
            for long in rs[:i]:
                if long.get("_excluded") or short.get("_excluded"):
                    continue
                if dedupe_key(short["text"]) in dedupe_key(long["text"]):
                    if short["class"] == long["class"]:
                        short["_excluded"] = "contained in " + long["_raw"]
                    else:
                        short["_excluded"] = long["_excluded"] = "conflicting-labels (nested excerpts)"


def groups(recs):
    """Union-find over records sharing a source or a text: group key = smallest source."""
    parent = {}

    def find(x):
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def union(a, b):
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)

    for r in recs:
        union("s:" + r["source"], "t:" + r["_sha"])
    members = defaultdict(list)
    for r in recs:
        members[find("s:" + r["source"])].append(r)
    out = {}
    for root, rs in members.items():
        key = min(r["source"] for r in rs)
        for r in rs:
            out[id(r)] = key
    return out


def split_of(group_key, salt_no):
    h = int(hashlib.sha256(f"{SALT}{salt_no}:{group_key}".encode()).hexdigest()[:8], 16) % 100
    for name, upto in SPLITS:
        if h < upto:
            return name
    return "test"


def pinned_splits(recs, gk):
    """The split each thread group already has in the committed outputs.

    A group's key is its smallest source, so a new record that ties two
    groups together (or brings a smaller source) would change the key and
    could move threads that signatures, training or tuning have already
    seen into another split. Threads therefore keep the split the committed
    files give them; only groups with no committed thread are placed by the
    hash. A new record that ties threads of two different splits together
    stops the build: a person decides (a `review.jsonl` drop, usually).
    """
    pinned = {}
    for name in ("train", "dev", "test", "stalled", "excluded"):
        path = os.path.join(HERE, f"{name}.jsonl")
        if not os.path.exists(path):
            continue
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                r = json.loads(line)
                pinned.setdefault(r["source"], r["split"])
    by_group = defaultdict(set)
    for r in recs:
        if r["source"] in pinned:
            by_group[gk[id(r)]].add((r["source"], pinned[r["source"]]))
    out = {}
    for group, got in by_group.items():
        splits = {s for _, s in got}
        if len(splits) > 1:
            raise SystemExit(f"build.py: group {group} now ties threads of several splits: {sorted(got)}")
        out[group] = splits.pop()
    return out


def record_id(r):
    return "real-" + sha(r["source"] + "\n" + r["_sha"], 10)


def build():
    recs = read_raw()
    for i, r in enumerate(recs):
        recs_order[r["_raw"]] = i
    review = read_review()
    apply_review(recs, review)
    validate(recs)
    dedupe(recs)
    # Every record, excluded or not, joins the grouping, so an excluded copy
    # of a log still ties its threads together.
    gk = groups(recs)
    group_split = pinned_splits(recs, gk)
    out = {"train": [], "dev": [], "test": [], "stalled": [], "excluded": []}
    for r in recs:
        group = gk[id(r)]
        split = group_split.get(group) or split_of(group, SALT_CHOSEN)
        rec = {
            "id": record_id(r),
            "class": r["class"],
            "subclass": r.get("subclass", ""),
            "source": r["source"],
            "url": r.get("url", ""),
            "server": r.get("server", "other"),
            "family": FAMILIES.get(r.get("server"), "other"),
            "split": split,
            "seed": group,
            "label_confidence": r.get("label_confidence", 0.8),
            "why": r.get("why", ""),
            "tags": sorted(set(r.get("tags", []))),
            "key": r.get("key") or [],
            "key_source": r.get("_key_source", "none"),
            "origin": r.get("url") or r["source"],
            "raw": r["_raw"],
            "text": r["text"],
        }
        if r.get("server_version"):
            rec["server_version"] = r["server_version"]
        if r.get("review"):
            rec["review"] = r["review"]
        if r.get("_orig_class"):
            rec["gathered_class"] = r["_orig_class"]
        if r.get("_also"):
            rec["also_gathered_as"] = r["_also"]
        if r.get("_excluded"):
            rec["excluded"] = r["_excluded"]
            out["excluded"].append(rec)
        elif r["class"] == STALLED:
            rec["corpus_class"] = STALLED
            rec["class"] = "unknown"
            out["stalled"].append(rec)
        else:
            out[split].append(rec)
    for k in out:
        out[k].sort(key=lambda r: r["id"])
    return out, recs


def stats(out):
    lines = ["# Real-world corpus: counts", "", "Generated by `python3 data/real/build.py`; do not edit.", ""]
    labelled = out["train"] + out["dev"] + out["test"]
    lines.append(
        f"Labelled crash logs and hard negatives: **{len(labelled)}** from "
        f"**{len({r['source'] for r in labelled})}** threads "
        f"({len({r['seed'] for r in labelled})} thread groups); engine-stalled slice: "
        f"{len(out['stalled'])}; excluded: {len(out['excluded'])}."
    )
    lines.append("")

    def table(title, key, rows_of):
        lines.append(f"## {title}")
        lines.append("")
        cols = ["train", "dev", "test", "stalled"]
        lines.append(f"| {key} | " + " | ".join(cols) + " | total | threads |")
        lines.append("|---|" + "---:|" * (len(cols) + 2))
        vals = sorted({rows_of(r) for c in cols for r in out[c]})
        for v in vals:
            counts = [sum(1 for r in out[c] if rows_of(r) == v) for c in cols]
            threads = len({r["source"] for c in cols for r in out[c] if rows_of(r) == v})
            lines.append(f"| {v} | " + " | ".join(map(str, counts)) + f" | {sum(counts)} | {threads} |")
        tot = [len(out[c]) for c in cols]
        lines.append("| **total** | " + " | ".join(map(str, tot)) + f" | {sum(tot)} | |")
        lines.append("")

    table("By class", "class", lambda r: r["class"])
    table("By family (leave-one-server-out unit)", "family", lambda r: r["family"])
    table("By server", "server", lambda r: r["server"])
    fmt_tags = ["cjk", "timestamps", "cri", "json", "docker-prefix", "ansi", "kubectl-describe", "events",
                "traceback", "multi-cause", "healthy", "old-format", "new-format", "truncated"]
    lines.append("## By format tag (labelled + stalled)")
    lines.append("")
    lines.append("| tag | records |")
    lines.append("|---|---:|")
    allr = labelled + out["stalled"]
    for t in fmt_tags:
        lines.append(f"| {t} | {sum(1 for r in allr if t in r['tags'])} |")
    lines.append("")
    lines.append("## Label confidence (labelled)")
    lines.append("")
    lines.append("| confidence | records |")
    lines.append("|---|---:|")
    for v, n in sorted(Counter(r["label_confidence"] for r in labelled).items()):
        lines.append(f"| {v} | {n} |")
    lines.append("")
    lines.append("## Evidence lines (labelled, not `unknown`)")
    lines.append("")
    lines.append("| key from | records |")
    lines.append("|---|---:|")
    for v, n in sorted(Counter(r["key_source"] for r in labelled if r["class"] != "unknown").items()):
        lines.append(f"| {v} | {n} |")
    lines.append("")
    lines.append("## Excluded")
    lines.append("")
    lines.append("| why | records |")
    lines.append("|---|---:|")
    reasons = Counter(re.sub(r"(duplicate of|contained in) .*", r"\1 …", r["excluded"]).split(" {")[0]
                      for r in out["excluded"])
    for v, n in sorted(reasons.items(), key=lambda x: (-x[1], x[0])):
        v = re.sub(r"^(key-not-in-text|review: |conflicting-labels).*", r"\1", v)
        lines.append(f"| {v} | {n} |")
    lines.append("")
    return "\n".join(lines)


def choose_salt(recs_out):
    """Step 5's one-time choice (kept for the record): the salt whose split is
    closest to 60/20/20 per class. Run with --choose-salt."""
    labelled = recs_out["train"] + recs_out["dev"] + recs_out["test"]
    best = None
    for s in range(200):
        err = 0.0
        for c in CLASSES:
            rs = [r for r in labelled if r["class"] == c]
            if not rs:
                continue
            n = Counter(split_of(r["seed"], s) for r in rs)
            for name, want in (("train", 0.6), ("dev", 0.2), ("test", 0.2)):
                err += (n[name] / len(rs) - want) ** 2
        if best is None or err < best[1]:
            best = (s, err)
    return best


def dump(rs):
    return "".join(json.dumps(r, ensure_ascii=False, sort_keys=False) + "\n" for r in rs)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="fail if the committed files differ from a fresh build")
    ap.add_argument("--list-unchecked", action="store_true", help="print records whose evidence came from the lexicon")
    ap.add_argument("--choose-salt", action="store_true", help="print the salt step 5 would choose on this data")
    args = ap.parse_args()
    out, _ = build()
    if args.choose_salt:
        print(choose_salt(out))
        return
    if args.list_unchecked:
        for k in ("train", "dev", "test"):
            for r in out[k]:
                if r["key_source"] == "lexicon":
                    print(json.dumps({"id": r["id"], "source": r["source"], "class": r["class"], "key": r["key"]},
                                     ensure_ascii=False))
        return
    files = {f"{k}.jsonl": dump(v) for k, v in out.items()}
    files["STATS.md"] = stats(out)
    if args.check:
        bad = []
        for name, text in files.items():
            path = os.path.join(HERE, name)
            try:
                with open(path, encoding="utf-8") as fh:
                    if fh.read() != text:
                        bad.append(name)
            except FileNotFoundError:
                bad.append(name)
        if bad:
            raise SystemExit("build.py --check: out of date: " + ", ".join(bad))
        print("build.py --check: up to date")
        return
    for name, text in files.items():
        with open(os.path.join(HERE, name), "w", encoding="utf-8") as fh:
            fh.write(text)
    print(" ".join(f"{k} {len(v)}" for k, v in out.items()))


if __name__ == "__main__":
    main()
