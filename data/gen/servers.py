"""How each serving stack writes its log: line prefixes, start-up sequences,
ready/serving/shutdown lines, crash tails, traceback frames and benign noise.

The wording of start-up lines follows what these projects print (recalled
from their sources and from logs pasted in public issue threads); values are
random. Nothing here is a failure: a window's label comes from its seed
(seeds.py), and these lines are the context around it.
"""

from common import fill, pick, hexs, alnum

LEVELS = {"I": "INFO", "W": "WARNING", "E": "ERROR", "D": "DEBUG"}


class Clock:
    def __init__(self, rng):
        self.rng = rng
        self.t = rng.randrange(0, 86400 * 300)
        self.year = rng.choice([2024, 2025, 2025, 2026])

    def tick(self, hi=3.0):
        self.t += self.rng.uniform(0.0, hi)

    def parts(self):
        t = int(self.t)
        day = t // 86400
        month = 1 + (day // 28) % 12
        dom = 1 + day % 28
        hh, mm, ss = (t // 3600) % 24, (t // 60) % 60, t % 60
        frac = int((self.t - t) * 1_000_000)
        return self.year, month, dom, hh, mm, ss, frac

    def iso(self):
        y, mo, d, hh, mm, ss, fr = self.parts()
        return f"{y}-{mo:02d}-{d:02d}T{hh:02d}:{mm:02d}:{ss:02d}.{fr:06d}Z"

    def vllm(self):
        y, mo, d, hh, mm, ss, fr = self.parts()
        return f"{mo:02d}-{d:02d} {hh:02d}:{mm:02d}:{ss:02d}"

    def plain(self, ms=False):
        y, mo, d, hh, mm, ss, fr = self.parts()
        s = f"{y}-{mo:02d}-{d:02d} {hh:02d}:{mm:02d}:{ss:02d}"
        return s + (f",{fr // 1000:03d}" if ms else "")

    def glog(self):
        y, mo, d, hh, mm, ss, fr = self.parts()
        return f"{mo:02d}{d:02d} {hh:02d}:{mm:02d}:{ss:02d}.{fr:06d}"

    def torch_tag(self):
        y, mo, d, hh, mm, ss, fr = self.parts()
        return f"{mo:02d}{d:02d} {hh:02d}:{mm:02d}:{ss:02d}.{fr:06d}000"


class Server:
    name = "generic"
    frames_pkg = []

    def __init__(self, rng, ctx, clock):
        self.rng, self.ctx, self.clock = rng, ctx, clock

    def f(self, template):
        return fill(template, self.rng, self.ctx)

    def log(self, level, msg, src=None):
        self.clock.tick()
        return self.f(msg)

    def frames(self, n):
        """`n` traceback frames (each 2 lines) from this server's code."""
        out = []
        pool = self.frames_pkg
        if not pool:
            return out
        start = self.rng.randrange(0, max(1, len(pool) - n + 1))
        for path, func, code in pool[start : start + n]:
            out.append(self.f(f'  File "«site»/{path}", line «line», in {func}'))
            out.append(self.f(f"    {code}"))
        return out

    def preamble(self, stage):
        return []

    def ready(self):
        return []

    def serving(self):
        return []

    def shutdown(self):
        return []

    def crash_tail(self):
        return []

    def noise(self):
        return []


# --------------------------------------------------------------------------- vLLM
class VLLM(Server):
    name = "vllm"
    frames_pkg = [
        ("vllm/entrypoints/openai/api_server.py", "run_server", "async with build_async_engine_client(args) as engine_client:"),
        ("vllm/entrypoints/openai/api_server.py", "build_async_engine_client_from_engine_args", "async_llm = AsyncLLM.from_vllm_config("),
        ("vllm/v1/engine/async_llm.py", "from_vllm_config", "return cls("),
        ("vllm/v1/engine/async_llm.py", "__init__", "self.engine_core = EngineCoreClient.make_async_mp_client("),
        ("vllm/v1/engine/core.py", "run_engine_core", "engine_core = EngineCoreProc(*args, **kwargs)"),
        ("vllm/v1/engine/core.py", "__init__", "super().__init__(vllm_config, executor_class, log_stats,"),
        ("vllm/v1/engine/core.py", "__init__", "self._initialize_kv_caches(vllm_config)"),
        ("vllm/v1/engine/core.py", "_initialize_kv_caches", "available_gpu_memory = self.model_executor.determine_available_memory()"),
        ("vllm/v1/executor/abstract.py", "determine_available_memory", "output = self.collective_rpc(\"determine_available_memory\")"),
        ("vllm/v1/executor/multiproc_executor.py", "collective_rpc", "raise RuntimeError("),
        ("vllm/utils/__init__.py", "run_method", "return func(*args, **kwargs)"),
        ("torch/utils/_contextlib.py", "decorate_context", "return func(*args, **kwargs)"),
        ("vllm/v1/worker/gpu_worker.py", "determine_available_memory", "self.model_runner.profile_run()"),
        ("vllm/v1/worker/gpu_model_runner.py", "profile_run", "hidden_states = self._dummy_run(self.max_num_tokens)"),
        ("vllm/v1/worker/gpu_model_runner.py", "load_model", "self.model = model_loader.load_model("),
        ("vllm/model_executor/model_loader/base_loader.py", "load_model", "self.load_weights(model, model_config)"),
        ("vllm/model_executor/model_loader/default_loader.py", "load_weights", "loaded_weights = model.load_weights("),
        ("vllm/model_executor/models/llama.py", "load_weights", "return loader.load_weights("),
    ]

    def __init__(self, rng, ctx, clock):
        super().__init__(rng, ctx, clock)
        ver = ctx["vllm_ver"]
        self.v1 = not (ver.startswith("0.4") or ver.startswith("0.5") or ver.startswith("0.6"))
        self.bracket = ver >= "0.8"
        self.worker = rng.random() < 0.6 and self.v1
        self.wprefix = rng.choice(["(EngineCore_0 pid=«pid») ", "(EngineCore_DP0 pid=«pid») ", "(VllmWorker rank=0 pid=«pid») ", "(VllmWorker TP0 pid=«pid») "]) if self.v1 else rng.choice(["(VllmWorkerProcess pid=«pid») ", ""])
        self.wprefix = self.f(self.wprefix)

    def log(self, level, msg, src=None, worker=False):
        self.clock.tick(2.0)
        src = src or pick(self.rng, ["core.py:«line»", "config.py:«line»", "api_server.py:«line»", "gpu_worker.py:«line»", "utils.py:«line»"])
        src = self.f(src)
        loc = f"[{src}]" if self.bracket else f"{src}]"
        prefix = self.wprefix if (worker and self.worker) else ""
        return f"{prefix}{LEVELS[level]} {self.clock.vllm()} {loc} {self.f(msg)}"

    def preamble(self, stage):
        L = []
        r = self.rng
        tp = self.ctx["tp_size"]
        m = self.ctx["model"]
        if self.v1:
            L.append(self.log("I", "Automatically detected platform cuda.", "__init__.py:«line»"))
        L.append(self.log("I", "vLLM API server version «vllm_ver»", "api_server.py:«line»"))
        if self.v1 and r.random() < 0.8:
            L.append(self.log("I", f"non-default args: {{'model': '{m}', 'max_model_len': {self.ctx['mlen']}, 'tensor_parallel_size': {tp}, 'gpu_memory_utilization': «frac»}}", "cli_args.py:«line»"))
        else:
            L.append(self.log("I", f"args: Namespace(host=None, port=«port0», uvicorn_log_level='info', allow_credentials=False, allowed_origins=['*'], model='{m}', tokenizer=None, max_model_len={self.ctx['mlen']}, tensor_parallel_size={tp}, gpu_memory_utilization=«frac», swap_space=4, enforce_eager=False, max_num_seqs=256, disable_log_requests=False)", "api_server.py:«line»"))
        if r.random() < 0.7:
            L.append(self.log("I", "This model supports multiple tasks: {'generate', 'embed', 'classify', 'reward'}. Defaulting to 'generate'.", "config.py:«line»"))
        if self.v1:
            L.append(self.log("I", f"Using max model len {self.ctx['mlen']}", "config.py:«line»"))
            if r.random() < 0.6:
                L.append(self.log("I", "Chunked prefill is enabled with max_num_batched_tokens=«n».", "config.py:«line»"))
        if tp > 1 and r.random() < 0.7:
            L.append(self.log("I", "Defaulting to use mp for distributed inference", "config.py:«line»"))
        if r.random() < 0.3:
            L.append(self.log("W", "To see benefits of async output processing, enable CUDA graph. Since, enforce-eager is enabled, async output processor cannot be used", "config.py:«line»"))
        if self.v1:
            L.append(self.log("I", "Waiting for init message from front-end.", "core.py:«line»"))
            L.append(self.log("I", f"Initializing a V1 LLM engine (v«vllm_ver») with config: model='{m}', speculative_config=None, tokenizer='{m}', skip_tokenizer_init=False, tokenizer_mode=auto, revision=None, trust_remote_code=False, dtype=torch.bfloat16, max_seq_len={self.ctx['mlen']}, download_dir=None, load_format=auto, tensor_parallel_size={tp}, pipeline_parallel_size=1, disable_custom_all_reduce=False, quantization=None, enforce_eager=False, kv_cache_dtype=auto, device_config=cuda, seed=0, served_model_name={m}, enable_prefix_caching=True, chunked_prefill_enabled=True", "core.py:«line»"))
        else:
            L.append(self.log("I", f"Initializing an LLM engine (v«vllm_ver») with config: model='{m}', speculative_config=None, tokenizer='{m}', skip_tokenizer_init=False, tokenizer_mode=auto, revision=None, rope_scaling=None, tokenizer_revision=None, trust_remote_code=False, dtype=torch.float16, max_seq_len={self.ctx['mlen']}, download_dir=None, load_format=LoadFormat.AUTO, tensor_parallel_size={tp}, pipeline_parallel_size=1, disable_custom_all_reduce=False, quantization=None, enforce_eager=False, kv_cache_dtype=auto, quantization_param_path=None, device_config=cuda, seed=0", "llm_engine.py:«line»"))
        if tp > 1:
            L.append(self.log("W", "Reducing Torch parallelism from «small» threads to 1 to avoid unnecessary CPU contention. Set OMP_NUM_THREADS in the external environment to tune this value as needed.", "multiproc_worker_utils.py:«line»"))
            L.append(self.log("I", "Found nccl from library libnccl.so.2", "utils.py:«line»", True))
            L.append(self.log("I", "vLLM is using nccl==«nccl»", "pynccl.py:«line»", True))
            if r.random() < 0.5:
                L.append(self.log("I", "reading GPU P2P access cache from /root/.cache/vllm/gpu_p2p_access_cache_for_0,1,2,3.json", "custom_all_reduce_utils.py:«line»", True))
            if r.random() < 0.4:
                L.append(self.log("W", "Custom allreduce is disabled because it's not supported on more than two PCIe-only GPUs. To silence this warning, specify disable_custom_all_reduce=True explicitly.", "custom_all_reduce.py:«line»", True))
            if self.v1 and r.random() < 0.6:
                L.append(self.log("I", f"rank 0 in world size {tp} is assigned as DP rank 0, PP rank 0, TP rank 0, EP rank 0", "parallel_state.py:«line»", True))
        if stage == "init":
            return L
        if self.v1:
            L.append(self.log("I", f"Starting to load model {m}...", "gpu_model_runner.py:«line»", True))
            if r.random() < 0.5:
                L.append(self.log("I", "Using Flash Attention backend on V1 engine.", "cuda.py:«line»", True))
        else:
            L.append(self.log("I", f"Starting to load model {m}...", "model_runner.py:«line»", True))
            if r.random() < 0.5:
                L.append(self.log("I", "Using Flash Attention backend.", "selector.py:«line»", True))
        L.append(self.log("I", "Using model weights format ['*.safetensors']", "weight_utils.py:«line»", True))
        if stage == "download":
            return L
        n = self.rng.choice([2, 4, 4, 5, 8, 15, 30])
        steps = sorted(set([0, n] + [r.randrange(1, n) for _ in range(2)])) if n > 2 else [0, 1, 2]
        for i in steps:
            p = int(100 * i / n)
            L.append(f"Loading safetensors checkpoint shards: {p:3d}% Completed | {i}/{n} [00:{r.randrange(0, 59):02d}<00:{r.randrange(0, 59):02d}, {r.uniform(0.5, 9):.2f}s/it]")
        if stage == "load":
            return L
        if self.v1:
            L.append(self.log("I", "Loading weights took «secs» seconds", "default_loader.py:«line»", True))
            L.append(self.log("I", "Model loading took «gib3» GiB and «secs» seconds", "gpu_model_runner.py:«line»", True))
            if r.random() < 0.6:
                L.append(self.log("I", "Using cache directory: /root/.cache/vllm/torch_compile_cache/«hex8»/rank_0_0/backbone for vLLM's torch.compile", "backends.py:«line»", True))
                L.append(self.log("I", "Dynamo bytecode transform time: «secs» s", "backends.py:«line»", True))
                L.append(self.log("I", "torch.compile takes «secs» s in total", "monitor.py:«line»", True))
        else:
            L.append(self.log("I", "Loading model weights took «gib3» GB", "model_runner.py:«line»", True))
            if r.random() < 0.5:
                L.append(self.log("I", "Memory profiling results: total_gpu_memory=«gib3»GiB initial_memory_usage=«gib3»GiB peak_torch_memory=«gib3»GiB memory_usage_post_profile=«gib3»GiB non_torch_memory=«gibs»GiB kv_cache_size=«gib3»GiB gpu_memory_utilization=«frac»", "worker.py:«line»", True))
        return L

    def ready(self):
        L = []
        r = self.rng
        if self.v1:
            L.append(self.log("I", "Available KV cache memory: «gib3» GiB", "gpu_worker.py:«line»", True))
            L.append(self.log("I", "GPU KV cache size: «kvtok» tokens", "kv_cache_utils.py:«line»"))
            L.append(self.log("I", f"Maximum concurrency for {self.ctx['mlen']:,} tokens per request: {r.uniform(1.1, 90):.2f}x", "kv_cache_utils.py:«line»"))
            if r.random() < 0.7:
                L.append(f"Capturing CUDA graph shapes: 100%|██████████| 67/67 [00:{r.randrange(10, 59)}<00:00,  {r.uniform(1, 4):.2f}it/s]")
                L.append(self.log("I", "Graph capturing finished in «small» secs, took «gibs» GiB", "gpu_model_runner.py:«line»", True))
            L.append(self.log("I", "init engine (profile, create kv cache, warmup model) took «secs» seconds", "core.py:«line»"))
        else:
            L.append(self.log("I", "# GPU blocks: «n2», # CPU blocks: «n»", "gpu_executor.py:«line»"))
            L.append(self.log("I", f"Maximum concurrency for {self.ctx['mlen']} tokens per request: {r.uniform(1.1, 90):.2f}x", "gpu_executor.py:«line»"))
            if r.random() < 0.7:
                L.append(self.log("I", "Capturing cudagraphs for decoding. This may lead to unexpected consequences if the model is not static. To run the model in eager mode, set 'enforce_eager=True' or use '--enforce-eager' in the CLI. If out-of-memory error occurs during cudagraph capture, consider decreasing `gpu_memory_utilization` or switching to eager mode. You can also reduce the `max_num_seqs` as needed to decrease memory usage.", "model_runner.py:«line»", True))
                L.append(self.log("I", "Graph capturing finished in «small» secs, took «gibs» GiB", "model_runner.py:«line»", True))
        L.append(self.log("I", "Starting vLLM API server on http://0.0.0.0:«port0»", "api_server.py:«line»"))
        L.append(self.log("I", "Available routes are:", "launcher.py:«line»"))
        for route in r.sample(["/openapi.json, Methods: HEAD, GET", "/docs, Methods: HEAD, GET", "/health, Methods: GET", "/tokenize, Methods: POST", "/v1/models, Methods: GET", "/version, Methods: GET", "/v1/chat/completions, Methods: POST", "/v1/completions, Methods: POST", "/v1/embeddings, Methods: POST", "/metrics, Methods: GET"], r.randrange(2, 7)):
            L.append(self.log("I", f"Route: {route}", "launcher.py:«line»"))
        L += self.f("INFO:     Started server process [«pid»]\nINFO:     Waiting for application startup.\nINFO:     Application startup complete.").split("\n")
        if r.random() < 0.6:
            L.append(self.f("INFO:     Uvicorn running on http://0.0.0.0:«port0» (Press CTRL+C to quit)"))
        return L

    def serving(self):
        r = self.rng
        L = []
        for _ in range(r.randrange(2, 8)):
            c = r.random()
            if c < 0.4:
                L.append(self.f(f"INFO:     «ip»:«mport» - \"{pick(r, ['POST /v1/chat/completions', 'GET /health', 'GET /metrics', 'POST /v1/completions', 'GET /v1/models'])} HTTP/1.1\" 200 OK"))
            elif c < 0.75:
                L.append(self.log("I", f"Avg prompt throughput: {r.uniform(0, 900):.1f} tokens/s, Avg generation throughput: {r.uniform(0, 400):.1f} tokens/s, Running: {r.randrange(0, 9)} reqs, Waiting: 0 reqs, GPU KV cache usage: {r.uniform(0, 60):.1f}%, Prefix cache hit rate: {r.uniform(0, 80):.1f}%", "loggers.py:«line»"))
            else:
                L.append(self.log("I", "Received request chatcmpl-«hex40»: prompt: '<|begin_of_text|>...', params: SamplingParams(n=1, temperature=0.7, top_p=1.0, max_tokens=512), prompt_token_ids: None, lora_request: None.", "logger.py:«line»"))
        return L

    def shutdown(self):
        L = ["INFO:     Shutting down", "INFO:     Waiting for application shutdown.", "INFO:     Application shutdown complete.", self.f("INFO:     Finished server process [«pid»]")]
        if self.rng.random() < 0.5:
            L.insert(0, self.log("I", "Shutting down FastAPI HTTP server.", "launcher.py:«line»"))
        if self.rng.random() < 0.4:
            L.append(self.f("[rank0]:[W«mmdd» «hhmmss».«pid»000 ProcessGroupNCCL.cpp:1250] Warning: WARNING: process group has NOT been destroyed before we destruct ProcessGroupNCCL. On normal program exit, the application should call destroy_process_group to ensure that any pending NCCL operations have finished in this process. In rare cases this process can exit before this point and block the progress of another member of the process group. This constraint has always been present,  but this warning has only recently been added. For more info, please see https://pytorch.org/docs/stable/distributed.html#shutdown (function operator())"))
        return L

    def crash_tail(self):
        r = self.rng
        L = []
        if self.v1:
            if r.random() < 0.8:
                L += [
                    "Traceback (most recent call last):",
                    self.f('  File "/usr/local/bin/vllm", line 8, in <module>'),
                    "    sys.exit(main())",
                ]
                L += self.frames(3)
                L.append(self.f('  File "«site»/vllm/v1/engine/core_client.py", line «line», in _wait_for_engine_startup'))
                L.append('    raise RuntimeError("Engine core initialization failed. "')
                L.append("RuntimeError: Engine core initialization failed. See root cause above. Failed core proc(s): {}")
            if r.random() < 0.4:
                L.append(self.f("/usr/lib/python«py»/multiprocessing/resource_tracker.py:«line»: UserWarning: resource_tracker: There appear to be 1 leaked shared_memory objects to clean up at shutdown"))
                L.append("  warnings.warn('resource_tracker: There appear to be %d '")
        else:
            if r.random() < 0.5:
                L.append(self.log("E", "Worker VllmWorkerProcess pid «pid» died, exit code: -15", "multiproc_worker_utils.py:«line»"))
                L.append(self.log("I", "Killing local vLLM worker processes", "multiproc_worker_utils.py:«line»"))
        if r.random() < 0.35:
            L.append(self.f("[rank0]:[W«mmdd» «hhmmss».«pid»000 ProcessGroupNCCL.cpp:1250] Warning: WARNING: process group has NOT been destroyed before we destruct ProcessGroupNCCL. On normal program exit, the application should call destroy_process_group to ensure that any pending NCCL operations have finished in this process. In rare cases this process can exit before this point and block the progress of another member of the process group. This constraint has always been present,  but this warning has only recently been added. For more info, please see https://pytorch.org/docs/stable/distributed.html#shutdown (function operator())"))
        return L

    def error_prefix(self):
        """vLLM v1 logs the engine core's traceback line by line at ERROR."""
        if self.v1 and self.rng.random() < 0.5:
            p = self.wprefix if self.rng.random() < 0.5 else ""
            src = "[core.py:«line»]" if self.bracket else "core.py:«line»]"
            return self.f(f"{p}ERROR {self.clock.vllm()} {src} ")
        return ""


# --------------------------------------------------------------------------- TGI
class TGI(Server):
    name = "tgi"
    frames_pkg = [
        ("text_generation_server/cli.py", "serve", "server.serve("),
        ("text_generation_server/server.py", "serve", "asyncio.run("),
        ("asyncio/runners.py", "run", "return loop.run_until_complete(main)"),
        ("asyncio/base_events.py", "run_until_complete", "return future.result()"),
        ("text_generation_server/server.py", "serve_inner", "model = get_model_with_lora_adapters("),
        ("text_generation_server/models/__init__.py", "get_model", "return FlashCausalLM("),
        ("text_generation_server/models/flash_causal_lm.py", "__init__", "model = model_class(prefix, config, weights)"),
        ("text_generation_server/models/custom_modeling/flash_llama_modeling.py", "__init__", "self.model = FlashLlamaModel(prefix, config, weights)"),
        ("text_generation_server/utils/weights.py", "get_tensor", "filename, tensor_name = self.get_filename(tensor_name)"),
        ("text_generation_server/models/flash_causal_lm.py", "warmup", "_, batch, _ = self.generate_token(batch)"),
        ("text_generation_server/interceptor.py", "intercept", "return await response"),
        ("opentelemetry/instrumentation/grpc/_aio_server.py", "_unary_interceptor", "raise error"),
    ]

    def log(self, level, msg, src=None):
        self.clock.tick(2.0)
        lvl = LEVELS[level].replace("WARNING", "WARN")
        target = src or "text_generation_launcher"
        return f"{self.clock.iso()} {lvl:>5} {target}: {self.f(msg)}"

    def preamble(self, stage):
        r = self.rng
        m = self.ctx["model"]
        L = [self.log("I", f'Args {{ model_id: "{m}", revision: None, validation_workers: 2, sharded: None, num_shard: Some({self.ctx["tp_size"]}), quantize: None, speculate: None, dtype: None, trust_remote_code: false, max_concurrent_requests: 128, max_best_of: 2, max_stop_sequences: 4, max_top_n_tokens: 5, max_input_tokens: Some(«n»), max_input_length: None, max_total_tokens: Some(«n»), waiting_served_ratio: 0.3, max_batch_prefill_tokens: None, max_batch_total_tokens: None, max_waiting_tokens: 20, max_batch_size: None, hostname: "{self.ctx["host_name"]}", port: 80, shard_uds_path: "/tmp/text-generation-server", master_addr: "localhost", master_port: 29500, huggingface_hub_cache: Some("/data"), weights_cache_override: None, disable_custom_kernels: false, cuda_memory_fraction: 1.0, json_output: false, otlp_endpoint: None, cors_allow_origin: [], watermark_gamma: None, watermark_delta: None, ngrok: false, env: false, max_client_batch_size: 4, lora_adapters: None }}')]
        if r.random() < 0.5:
            L.append(self.log("I", "Model supports up to «n» but tgi will now set its default to «n» instead. This is to save VRAM by refusing large prompts in order to allow more users on the same hardware. You can increase that size using `--max-batch-prefill-tokens=«n» --max-total-tokens=«n» --max-input-tokens=«n»`.", "text_generation_launcher"))
        if r.random() < 0.5:
            L.append(self.log("I", "Using default cuda graphs [1, 2, 4, 8, 16, 32]"))
        L.append(self.log("I", "Starting check and download process for " + m))
        if stage == "init":
            return L
        if r.random() < 0.6:
            L.append(self.log("I", f"Download file: model-0000{r.randrange(1, 5)}-of-0000{r.randrange(5, 9)}.safetensors", "download: text_generation_launcher"))
            L.append(self.log("I", "Downloaded /data/models--" + m.replace("/", "--") + f"/snapshots/«hex40»/model-0000{r.randrange(1, 5)}-of-0000{r.randrange(5, 9)}.safetensors in 0:00:«small».", "download: text_generation_launcher"))
        if stage == "download":
            return L
        L.append(self.log("I", "Successfully downloaded weights for " + m))
        L.append(self.log("I", "Starting shard rank=0", "shard-manager: text_generation_launcher"))
        for _ in range(r.randrange(1, 4)):
            L.append(self.log("I", "Waiting for shard to be ready... rank=0", "shard-manager: text_generation_launcher"))
        if stage == "load":
            return L
        L.append(self.log("I", "Server started at unix:///tmp/text-generation-server-0", "text_generation_launcher"))
        L.append(self.log("I", "Shard ready in «secs»s rank=0", "shard-manager: text_generation_launcher"))
        L.append(self.log("I", "Starting Webserver"))
        L.append(self.log("I", "Warming up model", "text_generation_router_v3"))
        return L

    def ready(self):
        return [
            self.log("I", "Setting max batch total tokens to «n2»", "text_generation_router_v3"),
            self.log("I", "Using backend V3", "text_generation_router_v3"),
            self.log("W", "Invalid hostname, defaulting to 0.0.0.0", "text_generation_router::server"),
            self.log("I", "Connected", "text_generation_router::server"),
        ]

    def serving(self):
        L = []
        for _ in range(self.rng.randrange(2, 6)):
            L.append(self.log("I", f'generate{{parameters=GenerateParameters {{ best_of: None, temperature: Some(0.7), repetition_penalty: None, top_k: None, top_p: None, max_new_tokens: Some(«small»), stop: [], details: false, seed: None }} total_time="{self.rng.uniform(0.1, 9):.3f}s" validation_time="212.3µs" queue_time="«small»µs" inference_time="{self.rng.uniform(0.1, 9):.3f}s" time_per_token="«small».1ms" seed="None"}}: Success', "text_generation_router::server"))
        return L

    def shutdown(self):
        return [
            self.log("I", "signal received, starting graceful shutdown", "text_generation_router::server"),
            self.log("I", "Terminating webserver"),
            self.log("I", "Waiting for webserver to gracefully shutdown"),
            self.log("I", "webserver terminated"),
            self.log("I", "Shutting down shards"),
            self.log("I", "Terminating shard rank=0", "shard-manager: text_generation_launcher"),
            self.log("I", "Waiting for shard to gracefully shutdown rank=0", "shard-manager: text_generation_launcher"),
            self.log("I", "shard terminated rank=0", "shard-manager: text_generation_launcher"),
        ]

    def crash_tail(self):
        r = self.rng
        L = []
        if r.random() < 0.7:
            L.append(self.log("E", "Shard 0 failed to start"))
        if r.random() < 0.6:
            L.append(self.log("I", "Shutting down shards"))
        if r.random() < 0.6:
            L.append(pick(r, ["Error: ShardCannotStart", "Error: ShardFailed", "Error: WebserverFailed"]))
        return L

    def error_prefix(self):
        return ""

    def shard_wrap(self, lines):
        """TGI prints a shard's stderr in one launcher line, then the text."""
        head = self.log("E", "Shard complete standard error output:\n", "shard-manager: text_generation_launcher")
        return head.split("\n") + lines + ([self.f(" rank=0")] if self.rng.random() < 0.5 else [])


# --------------------------------------------------------------------------- SGLang
class SGLang(Server):
    name = "sglang"
    frames_pkg = [
        ("sglang/srt/managers/scheduler.py", "run_scheduler_process", "scheduler = Scheduler(server_args, port_args, gpu_id, tp_rank, moe_ep_rank, pp_rank, dp_rank)"),
        ("sglang/srt/managers/scheduler.py", "__init__", "self.tp_worker = TpWorkerClass("),
        ("sglang/srt/managers/tp_worker.py", "__init__", "self.model_runner = ModelRunner("),
        ("sglang/srt/model_executor/model_runner.py", "__init__", "self.initialize(min_per_gpu_memory)"),
        ("sglang/srt/model_executor/model_runner.py", "initialize", "self.init_memory_pool("),
        ("sglang/srt/model_executor/model_runner.py", "init_memory_pool", "raise RuntimeError("),
        ("sglang/srt/model_executor/model_runner.py", "load_model", "self.model = get_model("),
        ("sglang/srt/model_loader/loader.py", "load_model", "model.load_weights(self._get_all_weights(model_config, model))"),
        ("sglang/srt/model_executor/cuda_graph_runner.py", "__init__", "self.capture()"),
    ]

    def log(self, level, msg, src=None):
        self.clock.tick(2.0)
        tag = self.rng.random()
        tp = "" if tag < 0.3 else f" TP{self.rng.randrange(0, max(1, self.ctx['tp_size']))}"
        return f"[{self.clock.plain()}{tp}] {self.f(msg)}"

    def preamble(self, stage):
        r = self.rng
        m = self.ctx["model"]
        L = [self.log("I", f"server_args=ServerArgs(model_path='{m}', tokenizer_path='{m}', tokenizer_mode='auto', load_format='auto', trust_remote_code=False, dtype='auto', kv_cache_dtype='auto', quantization=None, context_length=None, device='cuda', served_model_name='{m}', chat_template=None, is_embedding=False, host='0.0.0.0', port=«port0», mem_fraction_static=«frac», max_running_requests=None, max_total_tokens=None, chunked_prefill_size=8192, max_prefill_tokens=16384, schedule_policy='lpm', tp_size={self.ctx['tp_size']}, stream_interval=1, random_seed=«pid», log_level='info', disable_cuda_graph=False, enable_torch_compile=False)")]
        if r.random() < 0.5:
            L.append(self.log("I", "Attention backend not set. Use flashinfer backend by default."))
        L.append(self.log("I", "Init torch distributed begin."))
        if self.ctx["tp_size"] > 1 and r.random() < 0.6:
            L.append(self.log("I", "sglang is using nccl==«nccl»"))
        L.append(self.log("I", "Init torch distributed ends. mem usage=«gibs» GB"))
        if stage == "init":
            return L
        L.append(self.log("I", "Load weight begin. avail mem=«gib3» GB"))
        if stage == "download":
            return L
        n = r.choice([2, 4, 8, 17])
        for i in sorted(set([0, r.randrange(1, n), n])):
            L.append(f"Loading safetensors checkpoint shards: {int(100 * i / n):3d}% Completed | {i}/{n} [00:{r.randrange(0, 59):02d}<00:{r.randrange(0, 59):02d}, {r.uniform(0.5, 9):.2f}s/it]")
        if stage == "load":
            return L
        L.append(self.log("I", "Load weight end. type=LlamaForCausalLM, dtype=torch.bfloat16, avail mem=«gib2» GB, mem usage=«gib3» GB."))
        return L

    def ready(self):
        return [
            self.log("I", "KV Cache is allocated. #tokens: «n2», K size: «gib2» GB, V size: «gib2» GB"),
            self.log("I", "Memory pool end. avail mem=«gib2» GB"),
            self.log("I", "Capture cuda graph begin. This can take up to several minutes. avail mem=«gib2» GB"),
            self.log("I", "Capture cuda graph end. Time elapsed: «secs» s. mem usage=«gibs» GB. avail mem=«gib2» GB."),
            self.log("I", "max_total_num_tokens=«n2», chunked_prefill_size=8192, max_prefill_tokens=16384, max_running_requests=«small», context_len=«n», available_gpu_mem=«gib2» GB"),
            self.f("INFO:     Started server process [«pid»]"),
            "INFO:     Waiting for application startup.",
            "INFO:     Application startup complete.",
            self.f("INFO:     Uvicorn running on http://0.0.0.0:«port0» (Press CTRL+C to quit)"),
            self.f('INFO:     127.0.0.1:«mport» - "GET /get_model_info HTTP/1.1" 200 OK'),
            self.log("I", "Prefill batch. #new-seq: 1, #new-token: 7, #cached-token: 0, token usage: 0.00, #running-req: 0, #queue-req: 0"),
            self.f('INFO:     127.0.0.1:«mport» - "POST /generate HTTP/1.1" 200 OK'),
            self.log("I", "The server is fired up and ready to roll!"),
        ]

    def serving(self):
        L = []
        for _ in range(self.rng.randrange(2, 6)):
            if self.rng.random() < 0.5:
                L.append(self.log("I", f"Decode batch. #running-req: {self.rng.randrange(1, 40)}, #token: «n2», token usage: 0.{self.rng.randrange(0, 99):02d}, cuda graph: True, gen throughput (token/s): {self.rng.uniform(10, 3000):.2f}, #queue-req: 0"))
            else:
                L.append(self.f('INFO:     «ip»:«mport» - "POST /v1/chat/completions HTTP/1.1" 200 OK'))
        return L

    def shutdown(self):
        return ["INFO:     Shutting down", "INFO:     Waiting for application shutdown.", "INFO:     Application shutdown complete.", self.f("INFO:     Finished server process [«pid»]")]

    def crash_tail(self):
        L = []
        if self.rng.random() < 0.6:
            L.append(self.f("[«hhmmss»] Received sigquit from a child process. It usually means the child failed."))
        if self.rng.random() < 0.4:
            L.append("Killed")
        return L

    def error_prefix(self):
        return ""


# --------------------------------------------------------------------------- Triton
class Triton(Server):
    name = "triton"
    frames_pkg = [
        ("/models/llm/1/model.py", "initialize", "self.model = AutoModelForCausalLM.from_pretrained("),
        ("transformers/models/auto/auto_factory.py", "from_pretrained", "return model_class.from_pretrained("),
        ("transformers/modeling_utils.py", "from_pretrained", "resolved_archive_file = cached_file("),
        ("transformers/utils/hub.py", "cached_file", "resolved_file = hf_hub_download("),
    ]

    def log(self, level, msg, src=None):
        self.clock.tick(1.0)
        src = self.f(src or pick(self.rng, ["server.cc:«line»", "model_lifecycle.cc:«line»", "backend_model.cc:«line»", "pinned_memory_manager.cc:«line»", "cuda_memory_manager.cc:«line»", "grpc_server.cc:«line»", "http_server.cc:«line»"]))
        return f"{level}{self.clock.glog()} {self.rng.randrange(1, 200)} {src}] {self.f(msg)}"

    def banner(self):
        return self.f(
            "\n=============================\n== Triton Inference Server ==\n=============================\n\nNVIDIA Release 24.«small» (build «n2»)\nTriton Server Version «triton_ver»\n\nCopyright (c) 2018-2024, NVIDIA CORPORATION & AFFILIATES.  All rights reserved.\n\nVarious files include modifications (c) NVIDIA CORPORATION & AFFILIATES.  All rights reserved.\n\nThis container image and its contents are governed by the NVIDIA Deep Learning Container License.\nBy pulling and using the container, you accept the terms and conditions of this license:\nhttps://developer.nvidia.com/ngc/nvidia-deep-learning-container-license"
        ).split("\n")

    def preamble(self, stage):
        r = self.rng
        L = self.banner() if r.random() < 0.6 else []
        L.append(self.log("I", "Pinned memory pool is created at '«addr»' with size 268435456", "pinned_memory_manager.cc:«line»"))
        L.append(self.log("I", "CUDA memory pool is created on device 0 with size 67108864", "cuda_memory_manager.cc:«line»"))
        L.append(self.log("I", "Rate limit mode: Execution count", "model_lifecycle.cc:«line»"))
        if stage == "init":
            return L
        name = pick(r, ["llama", "ensemble", "preprocessing", "tensorrt_llm", "postprocessing", "vllm_model", "llm"])
        self.ctx["tmodel"] = name
        L.append(self.log("I", f"loading: {name}:1", "model_lifecycle.cc:«line»"))
        if r.random() < 0.5:
            L.append(self.log("I", f"TRITONBACKEND_ModelInstanceInitialize: {name}_0_0 (GPU device 0)", "python_be.cc:«line»"))
        if stage in ("download", "load"):
            return L
        return L

    def ready(self):
        name = self.ctx.get("tmodel", "llama")
        L = [
            self.log("I", f"successfully loaded '{name}'", "model_lifecycle.cc:«line»"),
            self.log("I", "\n+---------+---------+--------+\n| Model   | Version | Status |\n+---------+---------+--------+\n| " + name + " | 1       | READY  |\n+---------+---------+--------+\n", "server.cc:«line»"),
            self.log("I", "Started GRPCInferenceService at 0.0.0.0:8001", "grpc_server.cc:«line»"),
            self.log("I", "Started HTTPService at 0.0.0.0:8000", "http_server.cc:«line»"),
            self.log("I", "Started Metrics Service at 0.0.0.0:8002", "http_server.cc:«line»"),
        ]
        out = []
        for l in L:
            out += l.split("\n")
        return out

    def serving(self):
        return [self.log("I", "HTTP request: 2 /v2/models/«small»/infer", "http_server.cc:«line»") for _ in range(self.rng.randrange(1, 4))]

    def shutdown(self):
        return [
            "Signal (15) received.",
            self.log("I", "Waiting for in-flight requests to complete.", "server.cc:«line»"),
            self.log("I", "Timeout 30: Found 0 model versions that have in-flight inferences", "server.cc:«line»"),
            self.log("I", "All models are stopped, unloading models", "server.cc:«line»"),
            self.log("I", "Timeout 30: Found 1 live models and 0 in-flight non-inference requests", "server.cc:«line»"),
            self.log("I", "successfully unloaded '" + self.ctx.get("tmodel", "llama") + "' version 1", "model_lifecycle.cc:«line»"),
            self.log("I", "Timeout 29: Found 0 live models and 0 in-flight non-inference requests", "server.cc:«line»"),
        ]

    def crash_tail(self):
        r = self.rng
        L = []
        if r.random() < 0.7:
            L.append(self.log("I", "\n+---------+---------+-------------------------------------------+\n| Model   | Version | Status                                    |\n+---------+---------+-------------------------------------------+\n| llm     | 1       | UNAVAILABLE: Internal: see the log above  |\n+---------+---------+-------------------------------------------+\n", "server.cc:«line»"))
        if r.random() < 0.6:
            L.append(self.log("I", "Waiting for in-flight requests to complete.", "server.cc:«line»"))
            L.append(self.log("I", "All models are stopped, unloading models", "server.cc:«line»"))
        L.append("error: creating server: Internal - failed to load all models")
        out = []
        for l in L:
            out += l.split("\n")
        return out

    def error_prefix(self):
        return ""


# --------------------------------------------------------------------------- Ollama
class Ollama(Server):
    name = "ollama"

    def log(self, level, msg, src=None):
        self.clock.tick(1.0)
        src = self.f(src or pick(self.rng, ["server.go:«line»", "routes.go:«line»", "gpu.go:«line»", "sched.go:«line»", "images.go:«line»", "types.go:«line»"]))
        m = self.f(msg).replace('"', '\\"')
        return f'time={self.clock.iso()} level={LEVELS[level].replace("WARNING", "WARN")} source={src} msg="{m}"'

    def kv(self, level, msg, src, extra):
        self.clock.tick(1.0)
        return self.f(f'time={self.clock.iso()} level={LEVELS[level].replace("WARNING", "WARN")} source={src} msg="{msg}" {extra}')

    def preamble(self, stage):
        r = self.rng
        L = []
        if r.random() < 0.5:
            L.append("Couldn't find '/root/.ollama/id_ed25519'. Generating new private key.")
            L.append(self.f("Your new public key is: \n\nssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI" + alnum(r, 43)))
        L.append(self.kv("I", "server config", "routes.go:«line»", 'env="map[CUDA_VISIBLE_DEVICES: GPU_DEVICE_ORDINAL: HIP_VISIBLE_DEVICES: HSA_OVERRIDE_GFX_VERSION: HTTPS_PROXY: HTTP_PROXY: NO_PROXY: OLLAMA_DEBUG:false OLLAMA_FLASH_ATTENTION:false OLLAMA_GPU_OVERHEAD:0 OLLAMA_HOST:http://0.0.0.0:11434 OLLAMA_KEEP_ALIVE:5m0s OLLAMA_LOAD_TIMEOUT:5m0s OLLAMA_MAX_LOADED_MODELS:0 OLLAMA_MAX_QUEUE:512 OLLAMA_MODELS:/root/.ollama/models OLLAMA_NUM_PARALLEL:0 OLLAMA_ORIGINS:[http://localhost https://localhost] OLLAMA_SCHED_SPREAD:false]"'))
        L.append(self.kv("I", "total blobs: «small»", "images.go:«line»", ""))
        L.append(self.kv("I", "total unused blobs removed: 0", "images.go:«line»", ""))
        L.append(self.kv("I", "Listening on [::]:11434 (version «ollama_ver»)", "routes.go:«line»", ""))
        L.append(self.kv("I", "looking for compatible GPUs", "gpu.go:«line»", ""))
        if stage == "init":
            return L
        L.append(self.kv("I", "inference compute", "types.go:«line»", f'id=GPU-«uuid» library=cuda variant=v12 compute={self.ctx["gpu_cc"]} driver=12.4 name="{self.ctx["gpu_name"]}" total="«gib3» GiB" available="«gib3» GiB"'))
        if stage == "download":
            return L
        L.append(self.kv("I", "new model will fit in available VRAM in single GPU, loading", "sched.go:«line»", 'model=/root/.ollama/models/blobs/sha256-«sha» gpu=GPU-«uuid» parallel=4 available=«bytes» required="«gib2» GiB"'))
        L.append(self.kv("I", "starting llama server", "server.go:«line»", 'cmd="/usr/lib/ollama/runners/cuda_v12_avx/ollama_llama_server runner --model /root/.ollama/models/blobs/sha256-«sha» --ctx-size 8192 --batch-size 512 --n-gpu-layers «small» --threads 8 --parallel 4 --port «mport»"'))
        L.append(self.kv("I", "waiting for llama runner to start responding", "server.go:«line»", ""))
        L.append(self.kv("I", "waiting for server to become available", "server.go:«line»", 'status="llm server error"'))
        L += LlamaCpp(self.rng, self.ctx, self.clock).loader_lines(short=True)
        return L

    def ready(self):
        return [
            self.kv("I", "llama runner started in «secs» seconds", "server.go:«line»", ""),
            self.f('[GIN] «hhmmss» | 200 |  «secs»s |       127.0.0.1 | POST     "/api/chat"'),
        ]

    def serving(self):
        return [self.f(f'[GIN] 2025/0«small»/1«small» - «hhmmss» | 200 | {self.rng.uniform(0.01, 20):.6f}s |      «ip» | POST     "/api/{pick(self.rng, ["chat", "generate", "embed", "show"])}"') for _ in range(self.rng.randrange(2, 6))]

    def shutdown(self):
        return []

    def crash_tail(self):
        return []

    def error_prefix(self):
        return ""


# --------------------------------------------------------------------------- llama.cpp
class LlamaCpp(Server):
    name = "llama.cpp"

    def log(self, level, msg, src=None):
        self.clock.tick(0.5)
        return self.f(msg)

    def loader_lines(self, short=False):
        r = self.rng
        g = self.ctx["gguf_file"]
        L = [
            self.f(f"llama_model_loader: loaded meta data with «small» key-value pairs and «n2» tensors from /models/{g} (version GGUF V3 (latest))"),
            "llama_model_loader: Dumping metadata keys/values. Note: KV overrides do not apply in this output.",
            "llama_model_loader: - kv   0:                       general.architecture str              = llama",
            "llama_model_loader: - kv   1:                               general.type str              = model",
            self.f("llama_model_loader: - kv   2:                               general.name str              = Meta Llama 3.1 8B Instruct"),
            "llama_model_loader: - kv   3:                          llama.block_count u32              = 32",
            "llama_model_loader: - kv   4:                       llama.context_length u32              = 131072",
            "llama_model_loader: - type  f32:   66 tensors",
            "llama_model_loader: - type q4_K:  193 tensors",
            "llama_model_loader: - type q6_K:   33 tensors",
        ]
        if short:
            L = r.sample(L, r.randrange(3, len(L)))
        L += [
            "llm_load_vocab: special tokens cache size = 256",
            "llm_load_print_meta: format           = GGUF V3 (latest)",
            "llm_load_print_meta: arch             = llama",
            self.f("llm_load_print_meta: n_ctx_train      = «n»"),
            "llm_load_print_meta: n_embd           = 4096",
            "llm_load_print_meta: model type       = 8B",
            "llm_load_print_meta: model ftype      = Q4_K - Medium",
            self.f("llm_load_print_meta: model size       = «gib2» GiB (4.89 BPW)"),
        ]
        if short:
            L = L[: r.randrange(4, len(L))]
        return L

    def preamble(self, stage):
        r = self.rng
        L = [
            "ggml_cuda_init: GGML_CUDA_FORCE_MMQ:    no",
            "ggml_cuda_init: GGML_CUDA_FORCE_CUBLAS: no",
            "ggml_cuda_init: found 1 CUDA devices:",
            self.f(f"  Device 0: {self.ctx['gpu_name']}, compute capability {self.ctx['gpu_cc']}, VMM: yes"),
            self.f("build: «llama_build» with cc (Ubuntu 11.4.0-1ubuntu1~22.04) 11.4.0 for x86_64-linux-gnu"),
            "system info: n_threads = 8, n_threads_batch = 8, total_threads = 16",
            self.f("main: HTTP server is listening, hostname: 0.0.0.0, port: «port0», http threads: 15"),
            "main: loading model",
        ]
        if r.random() < 0.4:
            L = L[4:]
        if stage == "init":
            return L[:-1]
        if stage == "download":
            L.append(self.f("common_download_file: downloading from https://huggingface.co/«model»/resolve/main/«gguf» to /root/.cache/llama.cpp/«gguf».downloadInProgress (server_etag:\"«hex40»\", server_last_modified:...)..."))
            return L
        L += self.loader_lines()
        if stage == "load":
            return L
        L += [
            "llm_load_tensors: offloading 32 repeating layers to GPU",
            "llm_load_tensors: offloading output layer to GPU",
            "llm_load_tensors: offloaded 33/33 layers to GPU",
            self.f("llm_load_tensors:        CPU buffer size =   «mib» MiB"),
            self.f("llm_load_tensors:      CUDA0 buffer size =  «mib2» MiB"),
            "........................................................................................",
            self.f("llama_new_context_with_model: n_ctx      = «n»"),
            "llama_new_context_with_model: n_batch    = 2048",
            "llama_new_context_with_model: flash_attn = 0",
        ]
        return L

    def ready(self):
        return [
            self.f("llama_kv_cache_init:      CUDA0 KV buffer size =  «mib2» MiB"),
            self.f("llama_new_context_with_model: KV self size  = «mib2» MiB, K (f16): «mib» MiB, V (f16): «mib» MiB"),
            self.f("llama_new_context_with_model:      CUDA0 compute buffer size =   «mib» MiB"),
            "llama_new_context_with_model: graph nodes  = 1030",
            "srv          init: initializing slots, n_slots = 4",
            self.f("slot         init: id  0 | task -1 | new slot n_ctx_slot = «n»"),
            "main: model loaded",
            self.f("main: chat template, chat_template: llama3, example_format: '<|start_header_id|>system<|end_header_id|>"),
            self.f("main: server is listening on http://0.0.0.0:«port0» - starting the main loop"),
            "srv  update_slots: all slots are idle",
        ]

    def serving(self):
        L = []
        for _ in range(self.rng.randrange(2, 6)):
            L.append(self.f(pick(self.rng, [
                "slot launch_slot_: id  0 | task «small» | processing task",
                "slot update_slots: id  0 | task «small» | new prompt, n_ctx_slot = «n», n_keep = 0, n_prompt_tokens = «small»",
                "slot      release: id  0 | task «small» | stop processing: n_past = «n2», truncated = 0",
                "srv  log_server_r: request: POST /v1/chat/completions «ip» 200",
                "prompt eval time =     «secs» ms /    «small» tokens (    «secs» ms per token,   «secs» tokens per second)",
            ])))
        return L

    def shutdown(self):
        return ["srv    operator(): operator(): cleaning up before exit...", "main: server is shutting down" if self.rng.random() < 0.5 else "llama_perf_context_print:        load time =   «secs» ms".replace("«secs»", "1234.56")]

    def crash_tail(self):
        return []

    def error_prefix(self):
        return ""


# --------------------------------------------------------------------------- PyTorch / transformers custom server
class TorchApp(Server):
    name = "pytorch"
    frames_pkg = [
        ("/app/server.py", "<module>", "model = load_model(MODEL_ID)"),
        ("/app/server.py", "load_model", "model = AutoModelForCausalLM.from_pretrained(model_id, torch_dtype=torch.bfloat16, device_map=\"auto\")"),
        ("transformers/models/auto/auto_factory.py", "from_pretrained", "return model_class.from_pretrained("),
        ("transformers/modeling_utils.py", "from_pretrained", ") = cls._load_pretrained_model("),
        ("transformers/modeling_utils.py", "_load_pretrained_model", "new_error_msgs, offload_index, state_dict_index = _load_state_dict_into_meta_model("),
        ("transformers/modeling_utils.py", "_load_state_dict_into_meta_model", "set_module_tensor_to_device(model, param_name, param_device, **set_module_kwargs)"),
        ("accelerate/utils/modeling.py", "set_module_tensor_to_device", "new_value = value.to(device)"),
        ("torch/nn/modules/module.py", "to", "return self._apply(convert)"),
        ("torch/nn/modules/module.py", "_apply", "module._apply(fn)"),
        ("torch/cuda/__init__.py", "_lazy_init", "torch._C._cuda_init()"),
    ]

    def __init__(self, rng, ctx, clock):
        super().__init__(rng, ctx, clock)
        self.style = rng.randrange(0, 3)

    def log(self, level, msg, src=None):
        self.clock.tick(2.0)
        m = self.f(msg)
        if self.style == 0:
            return f"{self.clock.plain(True)} - {src or 'app'} - {LEVELS[level]} - {m}"
        if self.style == 1:
            return f"{LEVELS[level]}:{src or 'root'}:{m}"
        return f"[{self.clock.plain()}] {LEVELS[level]} {m}"

    def preamble(self, stage):
        r = self.rng
        m = self.ctx["model"]
        L = [self.log("I", f"Loading model {m}", "app")]
        if r.random() < 0.5:
            L.append(self.log("I", "Using device: cuda, torch «torch_ver», CUDA available: True", "app"))
        if stage == "init":
            return L
        if stage == "download":
            L.append(self.f(f"config.json: 100%|██████████| 855/855 [00:00<00:00, 6.21MB/s]"))
            L.append(self.f(f"model-00001-of-0000{r.randrange(2, 9)}.safetensors:  «pct»%|████      | 2.1G/4.98G [00:«small»<00:«small», 98.2MB/s]"))
            return L
        n = r.choice([2, 4, 8, 30])
        for i in sorted(set([0, r.randrange(1, n), n])):
            L.append(f"Loading checkpoint shards: {int(100 * i / n):3d}%|{'█' * (i * 10 // n):<10}| {i}/{n} [00:{r.randrange(0, 59):02d}<00:{r.randrange(0, 59):02d}, {r.uniform(0.5, 9):.2f}s/it]")
        if stage == "load":
            return L
        L.append(self.log("I", "Model loaded in «secs»s", "app"))
        return L

    def ready(self):
        return [
            self.f("INFO:     Started server process [«pid»]"),
            "INFO:     Waiting for application startup.",
            "INFO:     Application startup complete.",
            self.f("INFO:     Uvicorn running on http://0.0.0.0:«port0» (Press CTRL+C to quit)"),
        ]

    def serving(self):
        return [self.f('INFO:     «ip»:«mport» - "POST /generate HTTP/1.1" 200 OK') for _ in range(self.rng.randrange(1, 5))]

    def shutdown(self):
        return ["INFO:     Shutting down", "INFO:     Waiting for application shutdown.", "INFO:     Application shutdown complete.", self.f("INFO:     Finished server process [«pid»]")]

    def crash_tail(self):
        return []

    def error_prefix(self):
        return ""


SERVERS = {c.name: c for c in [VLLM, TGI, SGLang, Triton, Ollama, LlamaCpp, TorchApp]}


# --------------------------------------------------------------------------- noise
# Benign lines seen in real logs of these stacks. Split by index parity into a
# train pool and a dev pool (generate.py), so dev windows carry unseen noise.
NOISE = [
    "/usr/local/lib/python«py»/dist-packages/torch/cuda/__init__.py:«line»: UserWarning: Can't initialize NVML",
    "/usr/local/lib/python«py»/dist-packages/transformers/utils/hub.py:«line»: FutureWarning: Using `TRANSFORMERS_CACHE` is deprecated and will be removed in v5 of Transformers. Use `HF_HOME` instead.",
    "  warnings.warn(",
    "Special tokens have been added in the vocabulary, make sure the associated word embeddings are fine-tuned or trained.",
    "/usr/local/lib/python«py»/dist-packages/huggingface_hub/file_download.py:«line»: FutureWarning: `resume_download` is deprecated and will be removed in version 1.0.0. Downloads always resume when possible. If you want to force a new download, use `force_download=True`.",
    "huggingface/tokenizers: The current process just got forked, after parallelism has already been used. Disabling parallelism to avoid deadlocks...",
    "To disable this warning, you can either:",
    "\t- Avoid using `tokenizers` before the fork if possible",
    "\t- Explicitly set the environment variable TOKENIZERS_PARALLELISM=(true | false)",
    "«host»:«pid»:«pid» [0] NCCL INFO Bootstrap : Using «iface»:«ip»<0>",
    "«host»:«pid»:«pid» [0] NCCL INFO NET/Plugin: No plugin found (libnccl-net.so)",
    "«host»:«pid»:«pid» [0] NCCL INFO NET/Plugin: Plugin load returned 2 : libnccl-net.so: cannot open shared object file: No such file or directory : when loading libnccl-net.so",
    "«host»:«pid»:«pid» [0] NCCL INFO cudaDriverVersion 12040",
    "«host»:«pid»:«pid» [0] NCCL INFO Failed to open libibverbs.so[.1]",
    "«host»:«pid»:«pid» [0] NCCL INFO NET/Socket : Using [0]«iface»:«ip»<0>",
    "«host»:«pid»:«pid» [0] NCCL INFO Using non-device net plugin version 0",
    "«host»:«pid»:«pid» [0] NCCL INFO Using network Socket",
    "«host»:«pid»:«pid» [1] NCCL INFO Channel 00/02 :    0   1",
    "«host»:«pid»:«pid» [1] NCCL INFO P2P Chunksize set to 524288",
    "«host»:«pid»:«pid» [0] NCCL INFO Connected all rings",
    "«host»:«pid»:«pid» [0] NCCL INFO comm «addr» rank 0 nranks 2 cudaDev 0 nvmlDev 0 busId 1b000 commId 0x«hex8» - Init COMPLETE",
    "«host»:«pid»:«pid» [0] NCCL INFO NCCL_CUMEM_ENABLE set by environment to 0.",
    "WARNING: Published ports are discarded when using host network mode",
    "INFO:     «ip»:«mport» - \"GET /health HTTP/1.1\" 200 OK",
    "INFO:     «ip»:«mport» - \"GET /metrics HTTP/1.1\" 200 OK",
    "INFO:     10.0.0.1:«mport» - \"GET /v1/models HTTP/1.1\" 200 OK",
    "/usr/local/lib/python«py»/dist-packages/pydantic/_internal/_config.py:«line»: UserWarning: Valid config keys have changed in V2:",
    "* 'schema_extra' has been renamed to 'json_schema_extra'",
    "Downloading shards: 100%|██████████| 4/4 [00:00<00:00, 1823.61it/s]",
    "generation_config.json: 100%|██████████| 184/184 [00:00<00:00, 1.45MB/s]",
    "tokenizer_config.json: 100%|██████████| 55.4k/55.4k [00:00<00:00, 2.31MB/s]",
    "tokenizer.json: 100%|██████████| 9.09M/9.09M [00:00<00:00, 31.2MB/s]",
    "special_tokens_map.json: 100%|██████████| 296/296 [00:00<00:00, 2.79MB/s]",
    "The attention mask and the pad token id were not set. As a consequence, you may observe unexpected behavior. Please pass your input's `attention_mask` to obtain reliable results.",
    "Setting `pad_token_id` to `eos_token_id`:128001 for open-end generation.",
    "/usr/local/lib/python«py»/dist-packages/torch/_dynamo/eval_frame.py:«line»: UserWarning: torch.utils.checkpoint: the use_reentrant parameter should be passed explicitly.",
    "WARNING:root:Your token has been saved to /root/.cache/huggingface/token",
    "Token is valid (permission: read).",
    "Login successful",
    "+ exec python3 -m vllm.entrypoints.openai.api_server --model «model» --port «port0»",
    "+ echo 'starting model server'",
    "starting model server",
    "Model cache: /root/.cache/huggingface",
    "[W«mmdd» «hhmmss».«pid» socket.cpp:«line»] [c10d] The client socket has failed to connect to [localhost]:29500 (errno: 99 - Cannot assign requested address).",
    "/usr/lib/python«py»/multiprocessing/resource_tracker.py:«line»: UserWarning: resource_tracker: There appear to be 1 leaked semaphore objects to clean up at shutdown",
    "WARNING: CUDA Minor Version Compatibility mode ENABLED.\n  Using driver version «driver» which has support for CUDA «cuda».  This container\n  was built with CUDA 12.4 and will be run in Minor Version Compatibility mode.\n  CUDA Forward Compatibility is preferred over Minor Version Compatibility for use\n  with this container but was unavailable:\n  [[Forward compatibility was attempted on non supported HW (CUDA_ERROR_COMPAT_NOT_SUPPORTED_ON_DEVICE) cuInit()=804]]\n  See https://docs.nvidia.com/deploy/cuda-compatibility/ for details.",
    "NOTE: The SHMEM allocation limit is set to the default of 64MB.  This may be\n   insufficient for the inference server.  NVIDIA recommends the use of the following flags:\n   docker run --gpus all --ipc=host --ulimit memlock=-1 --ulimit stack=67108864 ...",
    "Fri «mmdd» «hhmmss» 2025\n+-----------------------------------------------------------------------------------------+\n| NVIDIA-SMI «driver»              Driver Version: «driver»      CUDA Version: «cuda»     |\n|-----------------------------------------+------------------------+----------------------+\n| GPU  Name                 Persistence-M | Bus-Id          Disp.A | Volatile Uncorr. ECC |\n|   0  «gpu_name»                On   |   «pcifull» Off |                    0 |\n+-----------------------------------------------------------------------------------------+\n| Processes:                                                                              |\n|  No running processes found                                                             |\n+-----------------------------------------------------------------------------------------+",
    "{\"level\":\"info\",\"ts\":\"2025-01-0«small»T«hhmmss»Z\",\"msg\":\"sidecar ready\",\"component\":\"model-agent\"}",
    "INFO 2025-0«small»-1«small» «hhmmss» prometheus_client exporter listening on :9090",
    "WARNING 2025-0«small»-1«small» «hhmmss» opentelemetry exporter: Failed to export batch code: 14, reason: failed to connect to all addresses; last error: UNKNOWN: ipv4:10.96.0.42:4317: Failed to connect to remote host: Connection refused",
    "Collecting environment information...",
    "PyTorch version: «torch_ver»+cu124",
    "Is debug build: False",
    "CUDA used to build PyTorch: 12.4",
    "OS: Ubuntu 22.04.4 LTS (x86_64)",
    "GPU models and configuration: GPU 0: «gpu_name»",
    "Nvidia driver version: «driver»",
    "INFO:datasets:PyTorch version «torch_ver» available.",
    "You are using the default legacy behaviour of the <class 'transformers.models.llama.tokenization_llama.LlamaTokenizer'>. This is expected, and simply means that the `legacy` (previous) behavior will be used so nothing changes for you.",
    "`torch_dtype` is deprecated! Use `dtype` instead!",
    "Sliding Window Attention is enabled but not implemented for `sdpa`; unexpected results may be encountered.",
    "WARNING: the memory profiler is an estimate; set VLLM_LOGGING_LEVEL=DEBUG for details",
    "Your GPU does not have native support for FP8 computation but FP8 quantization is being used. Weight-only FP8 compression will be used leveraging the Marlin kernel. This may degrade performance for compute-heavy workloads.",
    "Not enough SMs to use max_autotune_gemm mode",
    "Using a slow image processor as `use_fast` is unset and a slow processor was saved with this model.",
    "We will use 90% of the memory on device 0 for storing the model, and 10% for the buffer to avoid OOM. You can set `max_memory` in to a higher value to use more memory (at your own risk).",
    # Benign lines that name memory, failures or NCCL warnings (hard negatives).
    "ggml_cuda_host_malloc: failed to allocate «mib» MiB of pinned memory: out of memory",
    "warning: failed to mlock «bytes»-byte buffer (after previously locking 0 bytes): Cannot allocate memory\nTry increasing RLIMIT_MEMLOCK ('ulimit -l' as root).",
    "[W«mmdd» «hhmmss».«pid» CUDAAllocatorConfig.h:28] Warning: expandable_segments not supported on this platform (function operator())",
    "«site»/torch/_utils.py:«line»: UserWarning: TypedStorage is deprecated. It will be removed in the future and UntypedStorage will be the only storage class. This should only matter to you if you are using storages directly.",
    "«host»:«pid»:«pid» [0] NCCL INFO NET/IB : No device found.",
    "«host»:«pid»:«pid» [0] NCCL WARN NET/IB : No device found.",
    "[rank0]:[W«mmdd» «hhmmss».«pid» ProcessGroupNCCL.cpp:«line»] [PG ID 0 PG GUID 0 Rank 0]  using GPU 0 to perform barrier as devices used by this process are currently unknown. This can potentially cause a hang if this rank to GPU mapping is incorrect. Specify device_ids in barrier() to force use of a particular device, or call init_process_group() with a device_id.",
    "WARNING «mmdd» «hhmmss» shm_broadcast.py:«line»] No available shared memory broadcast block found in 60 second. This typically happens when some processes are hanging or doing some time-consuming work (e.g. compilation).",
    "INFO «mmdd» «hhmmss» [gpu_worker.py:«line»] Memory profiling takes «secs» seconds. Total non-torch memory: «gibs»GiB; torch peak memory increase: «gibs»GiB; non-torch forward increase memory: «gibs»GiB; weights memory: «gib3»GiB.",
    "llama_new_context_with_model: CUDA_Host  output buffer size =     2.02 MiB",
    "ERROR:    Exception in ASGI application (client disconnected while streaming)",
    "WARNING: failed to send usage stats: timeout after 10s",
]
