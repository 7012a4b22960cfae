"""Slots and small helpers shared by the generator modules.

Templates use «name» for a slot (never braces, which real log lines are full
of). Every random choice goes through the `random.Random` passed in, so the
whole corpus is a pure function of the seed in generate.py.
"""

import re

SLOT = re.compile(r"«(\w+)»")

MODELS = [
    "meta-llama/Llama-3.1-8B-Instruct",
    "meta-llama/Meta-Llama-3-70B-Instruct",
    "meta-llama/Llama-3.3-70B-Instruct",
    "meta-llama/Llama-2-13b-chat-hf",
    "mistralai/Mistral-7B-Instruct-v0.3",
    "mistralai/Mixtral-8x7B-Instruct-v0.1",
    "mistralai/Mistral-Small-24B-Instruct-2501",
    "Qwen/Qwen2.5-72B-Instruct",
    "Qwen/Qwen2.5-7B-Instruct",
    "Qwen/Qwen2.5-Coder-32B-Instruct",
    "Qwen/Qwen3-32B",
    "Qwen/Qwen3-30B-A3B",
    "google/gemma-2-27b-it",
    "google/gemma-3-12b-it",
    "microsoft/Phi-3-mini-4k-instruct",
    "microsoft/phi-4",
    "deepseek-ai/DeepSeek-R1-Distill-Qwen-32B",
    "deepseek-ai/DeepSeek-V2-Lite-Chat",
    "TinyLlama/TinyLlama-1.1B-Chat-v1.0",
    "NousResearch/Hermes-3-Llama-3.1-8B",
    "tiiuae/falcon-7b-instruct",
    "bigcode/starcoder2-15b",
    "ibm-granite/granite-3.1-8b-instruct",
    "01-ai/Yi-34B-Chat",
    "HuggingFaceH4/zephyr-7b-beta",
    "casperhansen/llama-3-70b-instruct-awq",
    "TheBloke/Mistral-7B-Instruct-v0.2-GPTQ",
    "neuralmagic/Meta-Llama-3.1-70B-Instruct-FP8",
    "/models/llama-3-8b-instruct",
    "/mnt/models",
    "/data/hf/qwen2.5-14b-instruct",
]
GATED = [
    "meta-llama/Llama-3.1-8B-Instruct",
    "meta-llama/Meta-Llama-3-70B-Instruct",
    "meta-llama/Llama-3.2-3B-Instruct",
    "meta-llama/Llama-2-7b-chat-hf",
    "google/gemma-2-9b-it",
    "google/gemma-3-27b-it",
    "mistralai/Mistral-7B-Instruct-v0.3",
    "mistralai/Mistral-Large-Instruct-2407",
    "bigcode/starcoder2-7b",
]
GGUF = [
    "llama-3.1-8b-instruct-q4_k_m.gguf",
    "Meta-Llama-3-70B-Instruct.Q5_K_M.gguf",
    "qwen2.5-7b-instruct-q8_0.gguf",
    "mistral-7b-instruct-v0.2.Q4_0.gguf",
    "gemma-2-27b-it-Q6_K.gguf",
    "Phi-3-mini-4k-instruct-q4.gguf",
    "DeepSeek-R1-Distill-Qwen-14B-Q4_K_M.gguf",
    "tinyllama-1.1b-chat-v1.0.Q8_0.gguf",
]
OLLAMA_MODELS = ["llama3.1:8b", "llama3:70b", "qwen2.5:14b", "mistral:7b", "gemma2:27b", "deepseek-r1:32b", "phi3:mini", "llama3.2:3b", "codellama:13b", "mixtral:8x7b"]
GPUS = [
    ("NVIDIA A100-SXM4-80GB", "8.0", 79.15),
    ("NVIDIA A100-PCIE-40GB", "8.0", 39.39),
    ("NVIDIA H100 80GB HBM3", "9.0", 79.10),
    ("NVIDIA H200", "9.0", 139.8),
    ("Tesla T4", "7.5", 14.75),
    ("NVIDIA L4", "8.9", 22.05),
    ("NVIDIA A10G", "8.6", 22.06),
    ("NVIDIA GeForce RTX 4090", "8.9", 23.64),
    ("NVIDIA GeForce RTX 3090", "8.6", 23.68),
    ("Tesla V100-SXM2-32GB", "7.0", 31.74),
    ("Tesla V100-PCIE-16GB", "7.0", 15.77),
    ("NVIDIA L40S", "8.9", 44.39),
    ("NVIDIA RTX A6000", "8.6", 47.53),
]
DRIVERS = ["470.182.03", "470.239.06", "515.65.01", "525.105.17", "525.147.05", "530.30.02", "535.104.05", "535.129.03", "535.183.01", "545.23.08", "550.54.15", "550.90.07", "550.127.05", "560.35.03", "565.57.01", "570.86.15", "570.124.06"]
CUDAS = ["11.4", "11.8", "12.0", "12.1", "12.2", "12.4", "12.6", "12.8", "12.9"]
PY = ["3.10", "3.11", "3.12"]
HOSTS = ["vllm-0", "llm-7f9c6d5b8-x2x9k", "tgi-server-5d8f9", "inference-2", "gpu-worker-0", "qwen-serving-6b7c8d9f4-abcde", "llama-deploy-0"]
IFACES = ["eth0", "ens5", "bond0", "enp65s0f0", "ib0"]
ARCHS = ["Qwen3MoeForCausalLM", "Gemma3ForConditionalGeneration", "DeepseekV3ForCausalLM", "Phi3SmallForCausalLM", "MllamaForConditionalGeneration", "Glm4ForCausalLM", "LlavaNextForConditionalGeneration", "Olmo2ForCausalLM", "Exaone4ForCausalLM"]
MODEL_TYPES = ["qwen3", "qwen2", "gemma3", "llama4", "mistral3", "deepseek_v3", "phi3", "glm4", "olmo2"]
GGUF_ARCHS = ["qwen3moe", "gemma3", "deepseek2", "glm4", "olmo2", "llama4", "phi4", "exaone4"]
TENSORS = [
    "model.embed_tokens.weight",
    "model.layers.0.self_attn.q_proj.weight",
    "model.layers.31.mlp.down_proj.weight",
    "lm_head.weight",
    "model.layers.12.self_attn.qkv_proj.weight_scale",
    "model.norm.weight",
    "transformer.h.0.attn.c_attn.weight",
]
VOCABS = [32000, 32064, 32768, 50257, 65024, 128256, 151936, 152064, 256000]


def pick(rng, seq):
    return seq[rng.randrange(len(seq))]


def hexs(rng, n):
    return "".join(pick(rng, "0123456789abcdef") for _ in range(n))


def alnum(rng, n):
    return "".join(pick(rng, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") for _ in range(n))


def uuid(rng):
    return f"{hexs(rng, 8)}-{hexs(rng, 4)}-{hexs(rng, 4)}-{hexs(rng, 4)}-{hexs(rng, 12)}"


def gib(rng, lo=0.5, hi=80.0):
    return f"{rng.uniform(lo, hi):.2f}"


def fill(template, rng, ctx):
    """Replaces «slot»s; `ctx` holds values fixed for one window (model, gpu, ...)."""

    def one(m):
        name = m.group(1)
        if name in ctx:
            return str(ctx[name])
        v = slot_value(name, rng, ctx)
        return str(v)

    return SLOT.sub(one, template)


def slot_value(name, rng, ctx):
    g = ctx.get("gpu_total", 79.15)
    table = {
        "n": lambda: rng.choice([1024, 2048, 4096, 8192, 16384, 32768, 65536, 131072]),
        "n2": lambda: rng.randrange(1000, 60000),
        "n3": lambda: rng.randrange(2000, 100000),
        "small": lambda: rng.randrange(2, 64),
        "line": lambda: rng.randrange(20, 2400),
        "pid": lambda: rng.randrange(7, 65000),
        "tid": lambda: rng.randrange(100, 99999),
        "rank": lambda: rng.randrange(0, 8),
        "rank1": lambda: rng.randrange(1, 8),
        "tp": lambda: rng.choice([2, 3, 4, 6, 8]),
        "port": lambda: rng.choice([8000, 8080, 3000, 30000, 11434, 8001, 5000]),
        "mport": lambda: rng.randrange(20000, 65000),
        "ip": lambda: f"10.{rng.randrange(0, 255)}.{rng.randrange(0, 255)}.{rng.randrange(2, 254)}",
        "pci": lambda: f"0000:{hexs(rng, 2)}:00",
        "pcifull": lambda: f"0000:{hexs(rng, 2).upper()}:00.0",
        "addr": lambda: "0x7f" + hexs(rng, 10),
        "hex8": lambda: hexs(rng, 8),
        "hex40": lambda: hexs(rng, 40),
        "sha": lambda: hexs(rng, 64),
        "uuid": lambda: uuid(rng),
        "reqid": lambda: f"Root=1-{hexs(rng, 8)}-{hexs(rng, 24)};{uuid(rng)}",
        "rand6": lambda: alnum(rng, 6),
        "gib": lambda: gib(rng, 0.5, g),
        "gib2": lambda: gib(rng, 0.1, 20),
        "gib3": lambda: gib(rng, 10, g),
        "gibs": lambda: gib(rng, 0.02, 4),
        "neggib": lambda: f"-{rng.uniform(0.05, 6):.2f}",
        "mib": lambda: f"{rng.uniform(2, 900):.2f}",
        "mib2": lambda: f"{rng.uniform(100, 30000):.2f}",
        "bytes": lambda: rng.randrange(10**8, 3 * 10**10),
        "frac": lambda: rng.choice(["0.9", "0.95", "0.85", "0.92", "0.8", "0.98"]),
        "secs": lambda: f"{rng.uniform(0.5, 300):.2f}",
        "pct": lambda: rng.randrange(1, 99),
        "shard_i": lambda: rng.randrange(1, 8),
        "shard_n": lambda: rng.choice([4, 5, 8, 15, 17, 19, 30, 61]),
        "drvint": lambda: rng.choice([11020, 11040, 11060, 11070, 11080, 12000, 12010, 12020]),
        "driver": lambda: pick(rng, DRIVERS),
        "cuda": lambda: pick(rng, CUDAS),
        "py": lambda: ctx.get("py", pick(rng, PY)),
        "host": lambda: pick(rng, HOSTS),
        "iface": lambda: pick(rng, IFACES),
        "xid_pid": lambda: rng.randrange(1000, 400000),
        "arch": lambda: pick(rng, ARCHS),
        "mtype": lambda: pick(rng, MODEL_TYPES),
        "garch": lambda: pick(rng, GGUF_ARCHS),
        "tensor": lambda: pick(rng, TENSORS),
        "vocab": lambda: pick(rng, VOCABS),
        "hidden": lambda: rng.choice([2048, 3072, 4096, 5120, 8192]),
        "heads": lambda: rng.choice([14, 28, 32, 40, 64, 25, 52]),
        "gated": lambda: pick(rng, GATED),
        "gguf": lambda: pick(rng, GGUF),
        "omodel": lambda: pick(rng, OLLAMA_MODELS),
        "seqnum": lambda: rng.randrange(1, 90000),
        "numel": lambda: rng.choice([1, 8192, 1048576, 4194304, 16777216, 33554432]),
        "timeout_ms": lambda: rng.choice([600000, 1800000, 300000, 120000]),
        "nccl": lambda: rng.choice(["2.18.1", "2.18.6", "2.19.3", "2.20.5", "2.21.5", "2.26.2", "2.27.3"]),
        "hhmmss": lambda: f"{rng.randrange(0, 24):02d}:{rng.randrange(0, 60):02d}:{rng.randrange(0, 60):02d}",
        "mmdd": lambda: f"{rng.randrange(1, 13):02d}{rng.randrange(1, 29):02d}",
        "kts": lambda: f"{rng.randrange(100, 9000000)}.{rng.randrange(0, 999999):06d}",
        "age": lambda: rng.choice(["12s", "45s", "2m", "3m10s", "5m", "11m", "27m", "1h"]),
        "count": lambda: rng.randrange(2, 40),
        "restarts": lambda: rng.randrange(2, 60),
        "cc": lambda: rng.choice(["7.0", "7.5", "6.1", "8.6", "8.0"]),
        "vllm_file": lambda: rng.choice(["core.py", "gpu_worker.py", "kv_cache_utils.py", "gpu_model_runner.py", "worker.py", "llm_engine.py"]),
        "iso": lambda: f"2025-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}T{rng.randrange(0, 24):02d}:{rng.randrange(0, 60):02d}:{rng.randrange(0, 60):02d}.{rng.randrange(0, 999):03d}Z",
        "prog": lambda: rng.choice(["api_server.py", "vllm serve", "launch_server.py", "server.py", "python -m sglang.launch_server", "app.py"]),
        "badarg": lambda: rng.choice(["--max-model-length 8192", "--gpu-memory-utilisation 0.9", "--tp 2", "--enable-lora true", "--max-tokens 4096", "--num-gpus 2", "--model-path /models/llama", "--quantize awq", "--served-model llama"]),
        "badval": lambda: rng.choice(["8k", "auto", "4096 ", "none", "32,768"]),
        "pymod": lambda: rng.choice(["flash_attn", "vllm", "sentencepiece", "xformers", "sglang", "uvicorn", "fastapi", "triton", "tiktoken", "app.server"]),
        "pyname": lambda: rng.choice(["disable_log_requests", "LlamaFlashAttention2", "is_torch_greater_or_equal_than_1_13", "cached_download", "worker_use_ray", "engine_use_ray", "Qwen2_5_VLForConditionalGeneration"]),
        "cmd": lambda: rng.choice(["vllm", "text-generation-launcher", "python", "llama-server", "tritonserver", "ollama", "/app/run.sh", "serve"]),
        "script": lambda: rng.choice(["server.py", "main.py", "app.py", "serve_model.py", "entrypoint.py", "handler.py"]),
        "kvtok": lambda: f"{rng.randrange(10, 2000)},{rng.randrange(0, 999):03d}",
    }
    if name in table:
        return table[name]()
    raise KeyError(f"unknown slot «{name}»")


def window_context(rng):
    """Values that stay fixed across one window."""
    gpu, cc, total = pick(rng, GPUS)
    model = pick(rng, MODELS)
    ctx = {
        "model": model,
        "gpu_name": gpu,
        "gpu_cc": cc,
        "gpu_total": total,
        "py": pick(rng, PY),
        "site": pick(rng, ["/usr/local/lib/python«py»/dist-packages", "/usr/local/lib/python«py»/site-packages", "/opt/conda/lib/python«py»/site-packages", "/opt/venv/lib/python«py»/site-packages", "/usr/lib/python3/dist-packages"]),
        "ollama_model": pick(rng, OLLAMA_MODELS),
        "gguf_file": pick(rng, GGUF),
        "host_name": pick(rng, HOSTS),
        "container": pick(rng, ["vllm", "server", "tgi", "inference", "model", "llm", "sglang", "triton", "ollama", "llama-server"]),
        "tp_size": pick(rng, [1, 1, 1, 2, 2, 4, 8]),
        "mlen": pick(rng, [4096, 8192, 16384, 32768, 65536, 131072]),
        "port0": pick(rng, [8000, 8080, 3000, 30000]),
        "vllm_ver": pick(rng, ["0.4.3", "0.5.3.post1", "0.6.1", "0.6.3.post1", "0.6.4.post1", "0.7.2", "0.7.3", "0.8.2", "0.8.5.post1", "0.9.1", "0.9.2", "0.10.0", "0.10.1.1", "0.10.2", "0.11.0"]),
        "tgi_ver": pick(rng, ["1.4.5", "2.0.4", "2.1.1", "2.2.0", "2.3.1", "2.4.0", "3.0.1", "3.1.0", "3.2.3"]),
        "sgl_ver": pick(rng, ["0.3.6", "0.4.1", "0.4.3.post2", "0.4.6.post4", "0.4.9", "0.5.0rc0"]),
        "ollama_ver": pick(rng, ["0.1.48", "0.3.6", "0.4.7", "0.5.7", "0.6.2", "0.9.0", "0.11.4"]),
        "triton_ver": pick(rng, ["2.41.0", "2.44.0", "2.48.0", "2.52.0", "2.56.0"]),
        "torch_ver": pick(rng, ["2.1.2", "2.3.1", "2.4.0", "2.5.1", "2.6.0", "2.7.0", "2.7.1", "2.8.0"]),
        "llama_build": f"{rng.randrange(2000, 6500)} ({hexs(rng, 7)})",
    }
    ctx["site"] = ctx["site"].replace("«py»", ctx["py"])
    return ctx
