"""More phrasings per class: other versions' wording, other frameworks
reporting the same cause, wrappers and operators paraphrasing it, and
Kubernetes views of it. Same conventions as seeds.py."""

from seeds import ALL_SERVERS, CUDA_ASYNC, PY_SERVERS, S

K8S_EVENTS_HEAD = ["Events:", "  Type     Reason     Age                From               Message", "  ----     ------     ----               ----               -------"]

# =============================================================== cuda-driver-mismatch
C = "cuda-driver-mismatch"
S("drv-803-runtimeerror", C, PY_SERVERS, "PyTorch cudaGetDeviceCount RuntimeError with error 803 (recalled)", [
    "TB",
    "RuntimeError: Unexpected error from cudaGetDeviceCount(). Did you run some cuda functions before calling NumCudaDevices() that might have already set an error? Error 803: system has unsupported display driver / cuda driver combination",
], "init")
S("drv-cudarc-compat", C, ["tgi"], "cudarc DriverError as printed by Rust launchers (recalled form of cudarc's Debug output)", [
    "Error: DriverError(CUDA_ERROR_COMPAT_NOT_SUPPORTED_ON_DEVICE, \"forward compatibility was attempted on non supported HW\")",
], "init")
S("drv-cudarc-mismatch", C, ["tgi", "llama.cpp"], "cudarc DriverError for a system driver mismatch (recalled form)", [
    "thread 'main' panicked at src/main.rs:«line»:«small»:",
    "called `Result::unwrap()` on an `Err` value: DriverError(CUDA_ERROR_SYSTEM_DRIVER_MISMATCH, \"system has unsupported display driver / cuda driver combination\")",
], "init")
S("drv-ollama-cuctx-symbol", C, ["ollama"], "Ollama driver library probe failing on an old libcuda (recalled from ollama issues)", [
    'time=«iso» level=INFO source=gpu.go:«line» msg="unable to load cuda driver library" library=/usr/lib/x86_64-linux-gnu/libcuda.so.470.«n2» error="symbol lookup for cuCtxCreate_v3 failed: /usr/lib/x86_64-linux-gnu/libcuda.so.470.«n2»: undefined symbol: cuCtxCreate_v3"',
    'time=«iso» level=INFO source=gpu.go:«line» msg="no compatible GPUs were discovered"',
], "init")
S("drv-cuinit-803", C, ALL_SERVERS, "cuInit failure naming CUDA_ERROR_SYSTEM_DRIVER_MISMATCH (synthetic wrapper around the driver API name)", [
    "@E cuInit(0) failed: CUDA_ERROR_SYSTEM_DRIVER_MISMATCH (803): system has unsupported display driver / cuda driver combination",
], "init")
S("drv-paraphrase-supports-up-to", C, ALL_SERVERS, "synthetic: a start-up check's paraphrase of a driver too old for the image", [
    "@E host NVIDIA driver «driver» supports CUDA up to 11.4, but this image was built with CUDA «cuda»; upgrade the driver or use an image built for CUDA 11.x",
], "init")
S("drv-paraphrase-requires-driver", C, ALL_SERVERS, "synthetic: an entrypoint's driver version gate", [
    "ERROR: CUDA «cuda» requires NVIDIA driver >= 525.60.13, found «driver». Refusing to start.",
], "init")
S("drv-sm86-not-compatible", C, ["vllm", "pytorch", "sglang", "tgi"], "PyTorch compute capability warning for another GPU (recalled)", [
    "«site»/torch/cuda/__init__.py:«line»: UserWarning: ",
    "NVIDIA H100 80GB HBM3 with CUDA capability sm_90 is not compatible with the current PyTorch installation.",
    "The current PyTorch install supports CUDA capabilities sm_37 sm_50 sm_60 sm_70 sm_75 sm_80 sm_86.",
    "TB",
    "RuntimeError: CUDA error: no kernel image is available for execution on the device",
], "load")
S("drv-llamacpp-no-kernel", C, ["llama.cpp", "ollama"], "ggml-cuda error for a missing kernel image (recalled from llama.cpp issues)", [
    "ggml_cuda_compute_forward: MUL_MAT failed",
    "CUDA error: no kernel image is available for execution on the device",
    "  current device: 0, in function ggml_cuda_compute_forward at /app/ggml/src/ggml-cuda/ggml-cuda.cu:«line»",
    "  err",
    "/app/ggml/src/ggml-cuda/ggml-cuda.cu:«line»: CUDA error",
], "profile")
S("drv-flashattn-no-kernel", C, ["vllm", "tgi", "sglang", "pytorch"], "flash-attn kernel launch failure on an unsupported architecture (recalled)", [
    "TB",
    '  File "«site»/flash_attn/flash_attn_interface.py", line «line», in _flash_attn_forward',
    "    out, softmax_lse, S_dmask, rng_state = flash_attn_cuda.fwd(",
    "RuntimeError: CUDA error: no kernel image is available for execution on the device",
], "profile")
S("drv-triton-ptx-version", C, ["vllm", "sglang", "pytorch"], "ptxas/triton failure with an old driver (approximate wording)", [
    "TB",
    "RuntimeError: Triton Error [CUDA]: PTX JIT compiler library not found",
    "@E the installed NVIDIA driver («driver») is older than the CUDA toolkit used to build the kernels («cuda»)",
], "profile")
S("drv-describe-events-toolkit", C, ALL_SERVERS, "kubectl describe Events for the toolkit's cuda requirement check (Kubernetes + toolkit wording)", K8S_EVENTS_HEAD + [
    "  Normal   Pulled     «age»              kubelet            Container image \"vllm/vllm-openai:v«vllm_ver»\" already present on machine",
    "  Warning  Failed     «age» (x«count» over «age»)  kubelet  Error: failed to create containerd task: failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: error during container init: error running prestart hook #0: exit status 1, stdout: , stderr: Auto-detected mode as 'legacy'",
    "nvidia-container-cli: requirement error: unsatisfied condition: cuda>=12.«small», please update your driver to a newer version, or use an earlier cuda container: unknown",
    "  Warning  BackOff    «age» (x«count» over «age»)  kubelet  Back-off restarting failed container «container» in pod «host»_default(«uuid»)",
], "init")
S("drv-nvml-mismatch-smi-k8s", C, ALL_SERVERS, "NVML mismatch seen from a device plugin / dcgm pod (NVML wording)", [
    "I«mmdd» «hhmmss».«pid» 1 main.go:«line»] Starting FS watcher.",
    "E«mmdd» «hhmmss».«pid» 1 factory.go:«line»] Failed to initialize NVML: Driver/library version mismatch.",
    "E«mmdd» «hhmmss».«pid» 1 factory.go:«line»] If this is a GPU node, did you set the docker default runtime to `nvidia`?",
], "init")
S("drv-tgi-too-old-12", C, ["tgi", "vllm"], "old-driver RuntimeError with a 12.x found version (PyTorch wording, recalled)", [
    "TB",
    "RuntimeError: The NVIDIA driver on your system is too old (found version 12020). Please update your GPU driver by downloading and installing a new version from the URL: http://www.nvidia.com/Download/index.aspx Alternatively, go to: https://pytorch.org to install a PyTorch version that has been compiled with your version of the CUDA driver.",
], "init")
S("drv-cuda-init-failed-insufficient", C, ["vllm", "pytorch"], "PyTorch CUDA init warning naming an insufficient driver (synthetic variant of the warning)", [
    "«site»/torch/cuda/__init__.py:«line»: UserWarning: CUDA initialization: CUDA driver version is insufficient for CUDA runtime version (Triggered internally at /pytorch/c10/cuda/CUDAFunctions.cpp:«line».)",
    "  return torch._C._cuda_getDeviceCount() > 0",
], "init")

# =============================================================== kv-cache-oom
C = "kv-cache-oom"
S("kv-vllm-maxlen-nosuffix", C, ["vllm"], "vLLM 0.2-era KV capacity ValueError without the advice sentence (recalled)", [
    "TB",
    "ValueError: The model's max seq len («n») is larger than the maximum number of tokens that can be stored in KV cache («n2»).",
])
S("kv-vllm-v1-zero-estimate", C, ["vllm"], "vLLM v1 KV ValueError with a tiny estimate (recalled wording)", [
    "@I Available KV cache memory: «gibs» GiB",
    "TB",
    "ValueError: To serve at least one request with the models's max seq len («n»), («gib» GiB KV cache is needed, which is larger than the available KV cache memory («gibs» GiB). Based on the available memory, the estimated maximum model length is «n2». Try increasing `gpu_memory_utilization` or decreasing `max_model_len` when initializing the engine.",
])
S("kv-vllm-concurrency-then-fail", C, ["vllm"], "vLLM v1 concurrency below one request, then the KV ValueError (recalled)", [
    "@I GPU KV cache size: «kvtok» tokens",
    "@I Maximum concurrency for «n» tokens per request: 0.«small»x",
    "ValueError: To serve at least one request with the model's max seq len («n»), «gib» GiB KV cache is needed, which is larger than the available KV cache memory («gibs» GiB). Try increasing `gpu_memory_utilization` or decreasing `max_model_len` when initializing the engine.",
])
S("kv-tgi-router-warmup", C, ["tgi"], "TGI v3 router warmup error line (recalled from TGI issues)", [
    "ERROR warmup{max_input_length=Some(«n») max_prefill_tokens=«n» max_total_tokens=Some(«n») max_batch_size=None}:warmup: text_generation_router_v3::client: backends/v3/src/client/mod.rs:«line»: Server error: Not enough memory to handle «n» prefill tokens. You need to decrease `--max-batch-prefill-tokens`",
    'Error: Backend(Warmup(Generation("Not enough memory to handle «n» prefill tokens. You need to decrease `--max-batch-prefill-tokens`")))',
])
S("kv-sglang-scheduler-tp", C, ["sglang"], "SGLang memory pool failure on every TP rank (recalled)", [
    "[«hhmmss» TP0] Load weight end. type=«arch», dtype=torch.bfloat16, avail mem=«gibs» GB, mem usage=«gib3» GB.",
    "[«hhmmss» TP1] Load weight end. type=«arch», dtype=torch.bfloat16, avail mem=«gibs» GB, mem usage=«gib3» GB.",
    "[«hhmmss» TP0] Scheduler hit an exception: Traceback (most recent call last):",
    "FR",
    "RuntimeError: Not enough memory. Please try to increase --mem-fraction-static.",
])
S("kv-llamacpp-unified", C, ["llama.cpp", "ollama"], "llama.cpp 2025 KV cache allocation failure (approximate wording of llama_kv_cache_unified)", [
    "llama_context: n_ctx         = «n»",
    "llama_context: n_ctx_per_seq = «n»",
    "ggml_backend_cuda_buffer_type_alloc_buffer: allocating «mib2» MiB on device 0: cudaMalloc failed: out of memory",
    "llama_kv_cache_unified: failed to allocate buffer for kv cache",
    "llama_init_from_model: failed to initialize the context: failed to allocate buffer for kv cache",
])
S("kv-lmdeploy", C, ["pytorch"], "LMDeploy KV cache sizing failure (approximate wording)", [
    "TB",
    "RuntimeError: no enough gpu memory for kv cache: cache_max_entry_count=«frac» leaves «mib» MiB for blocks; decrease session_len or increase cache_max_entry_count",
])
S("kv-paraphrase-blocks", C, ALL_SERVERS, "synthetic: an operator's paraphrase of an undersized KV cache", [
    "@E KV cache too small: only «small» blocks («n2» tokens) fit after loading weights, but --max-model-len is «n»; lower the context length or raise GPU memory utilisation",
])
S("kv-paraphrase-context", C, ALL_SERVERS, "synthetic: a wrapper's one-line version of vLLM's KV capacity error", [
    "@E engine start failed: the KV cache cannot hold a single sequence of max_model_len=«n» tokens (capacity «n2» tokens)",
])
S("kv-vllm-ray-no-blocks", C, ["vllm"], "vLLM no-cache-blocks ValueError from a Ray worker (recalled)", [
    "ray.exceptions.RayTaskError(ValueError): ray::RayWorkerWrapper.execute_method() (pid=«pid», ip=«ip», actor_id=«hex40», repr=<vllm.executor.ray_utils.RayWorkerWrapper object at «addr»>)",
    "FR",
    "ValueError: No available memory for the cache blocks. Try increasing `gpu_memory_utilization` when initializing the engine.",
])

# =============================================================== gpu-oom
C = "gpu-oom"
S("oom-including-non-pytorch", C, PY_SERVERS, "PyTorch OOM wording 'Including non-PyTorch memory' (recalled)", [
    "TB",
    "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate «mib» MiB. GPU «rank» has a total capacity of «gib3» GiB of which «mib» MiB is free. Including non-PyTorch memory, this process has «gib3» GiB memory in use. Of the allocated memory «gib3» GiB is allocated by PyTorch, and «mib» MiB is reserved by PyTorch but unallocated.",
], "load")
S("oom-trtllm-cudamalloc", C, ["triton"], "TensorRT-LLM cudaMalloc failure (approximate wording)", [
    "[TensorRT-LLM][ERROR] CUDA runtime error in ::cudaMallocAsync(ptr, n, mMemPool->getPool(), mCudaStream->get()): out of memory (/workspace/tensorrt_llm/cpp/tensorrt_llm/runtime/tllmBuffers.h:«line»)",
], "load")
S("oom-vllm-memory-profiling", C, ["vllm"], "vLLM memory profiling error when other processes hold GPU memory (recalled)", [
    "TB",
    "AssertionError: Error in memory profiling. Initial free memory «gib3» GiB, current free memory «gib3» GiB. This happens when the GPU memory was not properly cleaned up before initializing the vLLM instance.",
])
S("oom-during-generate", C, ["pytorch", "triton"], "transformers generate() OOM at serving time (PyTorch wording)", [
    "TB",
    '  File "«site»/transformers/generation/utils.py", line «line», in generate',
    "    result = self._sample(",
    "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate «gibs» GiB. GPU 0 has a total capacity of «gib3» GiB of which «mib» MiB is free.",
], "serve")
S("oom-sglang-load", C, ["sglang"], "SGLang weight load running out of GPU memory (PyTorch wording in SGLang)", [
    "[«hhmmss» TP0] Load weight begin. avail mem=«gibs» GB",
    "[«hhmmss» TP0] Scheduler hit an exception: Traceback (most recent call last):",
    "FR",
    "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate «mib» MiB. GPU 0 has a total capacity of «gib3» GiB of which «mib» MiB is free.",
], "load")
S("oom-cuda-runtime-2", C, ["triton", "pytorch", "llama.cpp"], "CUDA runtime error code 2 as printed by C++ code (recalled)", [
    "CUDA runtime error: out of memory (2) in /workspace/src/allocator.cu at line «line»",
    "terminate called after throwing an instance of 'std::runtime_error'",
    "  what():  CUDA runtime error: out of memory",
], "load")
S("oom-paraphrase-vram-needed", C, ALL_SERVERS, "synthetic: a sizing check's paraphrase of a model too large for VRAM", [
    "@E not enough VRAM: «model» needs about «gib3» GiB for weights but the GPU has «gib2» GiB free; use tensor parallelism or a quantized checkpoint",
], "load")
S("oom-paraphrase-oom-short", C, ALL_SERVERS, "synthetic: a log shipper's truncated CUDA OOM line", [
    "CUDA out of memory. Tried to allocate «mib» MiB",
], "load")
S("oom-cublas-workspace", C, PY_SERVERS, "cuBLAS/cuDNN allocation failure variant (recalled)", [
    "TB",
    "RuntimeError: CUDA error: CUBLAS_STATUS_ALLOC_FAILED when calling `cublasLtMatmul( ltHandle, computeDesc.descriptor(), &alpha_val, mat1_ptr, Adesc.descriptor(), mat2_ptr, Bdesc.descriptor(), &beta_val, result_ptr, Cdesc.descriptor(), result_ptr, Cdesc.descriptor(), &heuristicResult.algo, workspace.data_ptr(), workspaceSize, at::cuda::getCurrentCUDAStream())`",
], "profile")
S("oom-tgi-warmup-oom", C, ["tgi"], "TGI warmup hitting a plain CUDA OOM inside the shard (recalled)", [
    "@E Method Warmup encountered an error.",
    "TB",
    "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate «gibs» GiB. GPU 0 has a total capacity of «gib3» GiB of which «mib» MiB is free.",
])
S("oom-ollama-vram-alloc", C, ["ollama"], "Ollama/llama.cpp weight offload failing on VRAM (recalled)", [
    "ggml_backend_cuda_buffer_type_alloc_buffer: allocating «mib2» MiB on device 0: cudaMalloc failed: out of memory",
    "llama_model_load: error loading model: unable to allocate CUDA0 buffer",
    'time=«iso» level=ERROR source=sched.go:«line» msg="error loading llama server" error="llama runner process has terminated: error loading model: unable to allocate CUDA0 buffer"',
], "load")

# =============================================================== host-oom
C = "host-oom"
S("host-kubectl-get-oomkilled", C, ALL_SERVERS, "kubectl get pods showing OOMKilled (Kubernetes wording)", [
    "$ kubectl get pods",
    "NAME                             READY   STATUS      RESTARTS      AGE",
    "«host»   0/1     OOMKilled   «restarts» («age» ago)   «age»",
], "load")
S("host-script-killed", C, ["vllm", "tgi", "sglang", "pytorch", "llama.cpp", "triton"], "shell job report of a SIGKILLed server from an entrypoint script (bash wording)", [
    "/app/start.sh: line «small»:    «small» Killed                  «cmd» --model «model»",
], "load")
S("host-vllm-exit-9", C, ["vllm"], "vLLM v0 worker death with exit code -9 (recalled)", [
    "@E Worker VllmWorkerProcess pid «pid» died, exit code: -9",
    "@I Killing local vLLM worker processes",
], "load")
S("host-raylet-oom", C, ["vllm"], "raylet memory-pressure kill summary (recalled from Ray logs)", [
    "(raylet) [«iso»] (raylet) node_manager.cc:«line»: 1 Workers (tasks / actors) killed due to memory pressure (OOM), 0 Workers crashed due to other reasons at node (ID: «hex40», IP: «ip») over the last time period. To see more information about the Workers killed on this node, use `ray logs raylet.out -ip «ip»`",
    "Refer to the documentation on how to address the out of memory issue: https://docs.ray.io/en/latest/ray-core/scheduling/ray-oom-prevention.html.",
], "load")
S("host-pybind-bad-alloc", C, PY_SERVERS, "pybind11 translating std::bad_alloc (recalled)", [
    "TB",
    "MemoryError: std::bad_alloc",
], "load")
S("host-node-oom-kill", C, ALL_SERVERS, "node-level OOM killer line (Linux wording)", [
    "[«kts»] Out of memory: Killed process «pid» (python3) total-vm:«n2»kB, anon-rss:«n2»kB, file-rss:«n2»kB, shmem-rss:«n2»kB, UID:0 pgtables:«n2»kB oom_score_adj:«small»",
    "[«kts»] oom_reaper: reaped process «pid» (python3), now anon-rss:0kB, file-rss:0kB, shmem-rss:0kB",
], "load")
S("host-oomkilling-event", C, ALL_SERVERS, "kubelet OOMKilling Event on the node (Kubernetes wording)", [
    "  Warning  OOMKilling  «age»  kernel-monitor, gpu-node-«small»  Memory cgroup out of memory: Killed process «pid» (python3) total-vm:«n2»kB, anon-rss:«n2»kB, file-rss:«n2»kB, shmem-rss:0kB, UID:0 pgtables:«n2»kB oom_score_adj:«small»",
], "load")
S("host-old-kernel-sacrifice", C, ALL_SERVERS, "older kernel memcg OOM wording (Linux wording)", [
    "[«kts»] Memory cgroup out of memory: Kill process «pid» (text-generation-) score 1000 or sacrifice child",
    "[«kts»] Killed process «pid» (text-generation-) total-vm:«n2»kB, anon-rss:«n2»kB, file-rss:«n2»kB",
], "load")
S("host-triton-bad-alloc", C, ["triton"], "Triton model load failing with std::bad_alloc (approximate Triton wording)", [
    "@E failed to load 'llm' version 1: Internal: std::bad_alloc",
], "load")
S("host-describe-exit-137-oom", C, ALL_SERVERS, "kubectl describe with OOMKilled and the memory limit (Kubernetes wording, compact)", [
    "    State:          Waiting",
    "      Reason:       CrashLoopBackOff",
    "    Last State:     Terminated",
    "      Reason:       OOMKilled",
    "      Exit Code:    137",
    "    Limits:",
    "      memory:  «small»Gi",
], "load")
S("host-paraphrase-ram", C, ALL_SERVERS, "synthetic: a loader's paraphrase of exhausting host RAM", [
    "@E ran out of host RAM while reading checkpoint shards into CPU memory («gib3» GiB resident, limit «small» GiB); the kernel OOM killer ended the process",
], "load")
S("host-mmap-errno-12-rust", C, ["tgi", "vllm", "sglang"], "Rust-side mmap ENOMEM from safetensors (approximate wording)", [
    "TB",
    "OSError: Cannot allocate memory (os error 12)",
], "load")
S("host-go-runtime-cannot-allocate", C, ["ollama"], "Go runtime allocation failure wording (Go wording)", [
    "runtime: out of memory: cannot allocate «n2»-byte block («n2» in use)",
    "fatal error: out of memory",
], "load")

# =============================================================== weight-load-failure
C = "weight-load-failure"
S("wl-http-401-resolve", C, PY_SERVERS, "requests HTTPError 401 for a resolve URL (recalled from older huggingface_hub)", [
    "TB",
    "requests.exceptions.HTTPError: 401 Client Error: Unauthorized for url: https://huggingface.co/«gated»/resolve/main/config.json",
], "download")
S("wl-old-hub-gated", C, PY_SERVERS, "huggingface_hub < 0.23 error module path (recalled)", [
    "TB",
    "huggingface_hub.utils._errors.GatedRepoError: 401 Client Error. (Request ID: «reqid»)",
    "",
    "Cannot access gated repo for url https://huggingface.co/«gated»/resolve/main/config.json.",
    "Repo model «gated» is gated. You must be authenticated to access it.",
], "download")
S("wl-unrecognized-model", C, ["vllm", "pytorch", "tgi", "triton"], "transformers 'Unrecognized model' ValueError (recalled)", [
    "TB",
    "ValueError: Unrecognized model in /models/«hex8». Should have a `model_type` key in its config.json, or contain one of the following strings in its name: albert, align, altclip, bart, bert, bloom, falcon, gemma, gpt2, llama, mistral, mixtral, phi, qwen2, t5, whisper",
], "init")
S("wl-no-file-named", C, ["pytorch", "triton", "tgi"], "transformers missing-weights OSError (recalled)", [
    "TB",
    "OSError: Error no file named pytorch_model.bin, model.safetensors, tf_model.h5, model.ckpt.index or flax_model.msgpack found in directory /models/«hex8».",
], "load")
S("wl-unable-load-weights", C, ["pytorch", "triton"], "transformers failed torch.load OSError (recalled)", [
    "TB",
    "OSError: Unable to load weights from pytorch checkpoint file for '/models/«hex8»/pytorch_model.bin' at '/models/«hex8»/pytorch_model.bin'. If you tried to load a PyTorch model from a TF 2.0 checkpoint, please set from_tf=True.",
], "load")
S("wl-invalid-header", C, ["vllm", "pytorch", "tgi", "sglang"], "safetensors InvalidHeaderDeserialization (recalled)", [
    "TB",
    "safetensors_rust.SafetensorError: Error while deserializing header: InvalidHeaderDeserialization",
], "load")
S("wl-disk-quota", C, PY_SERVERS, "EDQUOT while downloading weights (Python wording)", [
    "TB",
    '  File "«site»/huggingface_hub/file_download.py", line «line», in http_get',
    "    temp_file.write(chunk)",
    "OSError: [Errno 122] Disk quota exceeded",
], "download")
S("wl-vllm-no-weights", C, ["vllm"], "vLLM weight discovery failure (recalled)", [
    "TB",
    "RuntimeError: Cannot find any model weights with `/models/«hex8»`",
], "load")
S("wl-ollama-unable-to-load", C, ["ollama"], "ollama runner failing to load a blob (recalled)", [
    'time=«iso» level=ERROR source=sched.go:«line» msg="error loading llama server" error="llama runner process has terminated: error loading model: unable to load model: /root/.ollama/models/blobs/sha256-«sha»"',
    "Error: llama runner process has terminated: error loading model: unable to load model: /root/.ollama/models/blobs/sha256-«sha»",
], "load")
S("wl-ollama-newer-version", C, ["ollama"], "ollama pull requiring a newer server (recalled)", [
    "pulling manifest",
    "Error: pull model manifest: 412: ",
    "",
    "The model you are attempting to pull requires a newer version of Ollama.",
], "download")
S("wl-triton-vllm-backend", C, ["triton"], "Triton vLLM backend model load failing on the HF hub (synthetic combination)", [
    "@E failed to load 'vllm_model' version 1: Internal: OSError: «model» is not a local folder and is not a valid model identifier listed on 'https://huggingface.co/models'",
    "If this is a private repository, make sure to pass a token having permission to this repo either by logging in with `huggingface-cli login` or by passing `token=<your_token>`",
], "download")
S("wl-hf-offline-env", C, PY_SERVERS, "huggingface_hub offline mode error with HF_HUB_OFFLINE (recalled)", [
    "TB",
    "huggingface_hub.errors.OfflineModeIsEnabled: Cannot reach https://huggingface.co/api/models/«model»: offline mode is enabled. To disable it, please unset the `HF_HUB_OFFLINE` environment variable.",
], "download")
S("wl-hub-timeout", C, PY_SERVERS, "read timeout from the HF CDN (requests wording)", [
    "TB",
    "requests.exceptions.ReadTimeout: (ReadTimeoutError(\"HTTPSConnectionPool(host='cdn-lfs-us-1.hf.co', port=443): Read timed out. (read timeout=10)\"), '(Request ID: «uuid»)')",
], "download")
S("wl-tgi-download-connection", C, ["tgi"], "TGI download step failing to reach the hub (recalled)", [
    "@E Download encountered an error: ",
    "TB",
    "requests.exceptions.ConnectionError: HTTPSConnectionPool(host='huggingface.co', port=443): Max retries exceeded with url: /api/models/«model» (Caused by NewConnectionError('<urllib3.connection.HTTPSConnection object at «addr»>: Failed to establish a new connection: [Errno 101] Network is unreachable'))",
    "Error: DownloadError",
], "download")
S("wl-paraphrase-token", C, ALL_SERVERS, "synthetic: an init container's paraphrase of a missing HF token", [
    "@E could not download «gated»: the Hugging Face token is missing or lacks access to this gated model (HTTP 401)",
], "download")
S("wl-paraphrase-shape", C, ALL_SERVERS, "synthetic: a loader's paraphrase of a checkpoint/architecture mismatch", [
    "@E checkpoint does not match the model architecture: tensor «tensor» has shape [«vocab», «hidden»] in the file but [«vocab», «hidden»] in the model",
], "load")
S("wl-llamacpp-old-format", C, ["llama.cpp", "ollama"], "llama.cpp refusing an old GGML/GGUF file (recalled)", [
    "gguf_init_from_file: GGUFv1 is no longer supported. please use a more up-to-date version",
    "llama_model_load: error loading model: llama_model_loader: failed to load model from /models/«gguf»",
], "load")

# =============================================================== nccl-failure
C = "nccl-failure"
NCCL_PY = ["vllm", "sglang", "pytorch", "tgi"]
S("nccl-store-get-reset", C, NCCL_PY, "PyTorch ncclUniqueId exchange failure via the c10d store (recalled)", [
    "TB",
    "torch.distributed.DistBackendError: [«rank1»] is setting up NCCL communicator and retrieving ncclUniqueId from [0] via c10d key-value store by key '0', but store->get('0') got error: Connection reset by peer",
], "init")
S("nccl-error-2-old", C, NCCL_PY, "PyTorch 1.x NCCL error wording (recalled)", [
    "TB",
    "RuntimeError: NCCL error in: /opt/conda/conda-bld/pytorch_«n2»/work/torch/csrc/distributed/c10d/ProcessGroupNCCL.cpp:«line», internal error, NCCL version 2.14.3",
    "ncclInternalError: Internal check failed. This is either a bug in NCCL or due to memory corruption",
])
S("nccl-connection-closed", C, NCCL_PY, "NCCL WARN connection closed by remote peer (recalled)", [
    "«host»:«pid»:«pid» [1] transport/net_socket.cc:«line» NCCL WARN NET/Socket : peer «ip»<«mport»> message truncated : receiving 4 bytes instead of 8",
    "«host»:«pid»:«pid» [1] misc/socket.cc:«line» NCCL WARN Net : Connection closed by remote peer «ip»<«mport»>",
    "«host»:«pid»:«pid» [1] NCCL INFO transport/net_socket.cc:«line» -> 6",
])
S("nccl-torch-shm-full", C, ["pytorch", "vllm", "sglang"], "PyTorch shared-memory file write failure in /dev/shm (recalled)", [
    "TB",
    "RuntimeError: unable to write to file </torch_«pid»_«n2»_0>: No space left on device (28)",
])
S("nccl-vllm-shm-psm", C, ["vllm"], "vLLM shared-memory message queue failing on a tiny /dev/shm (approximate wording)", [
    "TB",
    '  File "/usr/lib/python«py»/multiprocessing/shared_memory.py", line «line», in __init__',
    "    self._mmap = mmap.mmap(self._fd, size)",
    "OSError: [Errno 28] No space left on device: '/dev/shm/psm_«hex8»'",
], "init")
S("nccl-watchdog-allgather", C, NCCL_PY, "PyTorch watchdog timeout on an ALLGATHER (recalled)", [
    "[rank«rank»]:[E«mmdd» «hhmmss».«pid»000 ProcessGroupNCCL.cpp:«line»] [Rank «rank»] Watchdog caught collective operation timeout: WorkNCCL(SeqNum=«seqnum», OpType=_ALLGATHER_BASE, NumelIn=«numel», NumelOut=«numel», Timeout(ms)=«timeout_ms») ran for «timeout_ms» milliseconds before timing out.",
    "[rank«rank»]:[E«mmdd» «hhmmss».«pid»000 ProcessGroupNCCL.cpp:«line»] [PG ID 0 PG GUID 0(default_pg) Rank «rank»] To avoid data inconsistency, we are taking the entire process down.",
], "serve")
S("nccl-connect-refused-retry", C, NCCL_PY, "NCCL socket connect retries (recalled)", [
    "«host»:«pid»:«pid» [0] misc/socket.cc:«line» NCCL WARN socketProgressOpt: Call to recv from «ip»<«mport»> failed : Connection refused",
    "«host»:«pid»:«pid» [0] NCCL INFO misc/socket.cc:«line» -> 6",
    "«host»:«pid»:«pid» [0] NCCL INFO bootstrap.cc:«line» -> 6",
    "TB",
    "torch.distributed.DistBackendError: NCCL error in: ../torch/csrc/distributed/c10d/ProcessGroupNCCL.cpp:«line», remote process exited or there was a network error, NCCL version «nccl»",
], "init")
S("nccl-p2p-disable-hint", C, ["vllm", "sglang"], "synthetic: launcher hint after a P2P failure between GPUs", [
    "@W GPU P2P access between GPU 0 and GPU 1 failed the check; if NCCL hangs or errors, set NCCL_P2P_DISABLE=1",
    "RuntimeError: NCCL error: unhandled cuda error (run with NCCL_DEBUG=INFO for details)",
])
S("nccl-paraphrase-shm", C, ALL_SERVERS, "synthetic: a paraphrase of a /dev/shm too small for NCCL", [
    "@E /dev/shm is only 64M; NCCL needs more shared memory for tensor parallelism (mount an emptyDir with medium: Memory at /dev/shm)",
])
S("nccl-paraphrase-timeout", C, ALL_SERVERS, "synthetic: a paraphrase of a collective timeout", [
    "@E NCCL all-reduce timed out after «timeout_ms» ms on rank «rank1»; the tensor-parallel group is stuck",
], "serve")
S("nccl-sglang-tp-error", C, ["sglang"], "SGLang TP worker failing inside NCCL init (recalled from SGLang issues)", [
    "[«hhmmss» TP1] Init torch distributed begin.",
    "[«hhmmss» TP1] Scheduler hit an exception: Traceback (most recent call last):",
    "FR",
    "torch.distributed.DistBackendError: NCCL error in: ../torch/csrc/distributed/c10d/NCCLUtils.hpp:«line», unhandled system error (run with NCCL_DEBUG=INFO for details), NCCL version «nccl»",
    "ncclSystemError: System call (e.g. socket, malloc) or external library call failed or device error.",
], "init")

# =============================================================== gpu-hardware-fault
C = "gpu-hardware-fault"
S("hw-device-plugin-xid", C, ALL_SERVERS, "NVIDIA device plugin health check on a critical Xid (recalled)", [
    "I«mmdd» «hhmmss».«pid» 1 health.go:«line»] Processing event {Device:{Handle:«addr»} EventType:8 EventData:79 GpuInstanceId:4294967295 ComputeInstanceId:4294967295}",
    "I«mmdd» «hhmmss».«pid» 1 health.go:«line»] XidCriticalError: Xid=79 on Device=GPU-«uuid»; marking device GPU-«uuid» as unhealthy.",
    "I«mmdd» «hhmmss».«pid» 1 server.go:«line»] 'nvidia.com/gpu' device marked unhealthy: GPU-«uuid»",
], "serve")
S("hw-xid-62", C, ALL_SERVERS, "Xid 62 internal micro-controller halt (recalled)", [
    "[«kts»] NVRM: Xid (PCI:«pcifull»): 62, pid=«xid_pid», name=python3, «hex8» «hex8» «hex8»",
], "serve")
S("hw-xid-92-sbe", C, ALL_SERVERS, "Xid 92 high single-bit ECC rate (recalled)", [
    "[«kts»] NVRM: Xid (PCI:«pcifull»): 92, pid=«xid_pid», name=python3, High single-bit ECC error rate",
    "[«kts»] NVRM: Xid (PCI:«pcifull»): 48, pid=«xid_pid», name=python3, DBE (Double Bit Error) ECC Error",
], "serve")
S("hw-dcgm-health", C, ALL_SERVERS, "DCGM health watch failure (approximate DCGM wording)", [
    "Health Monitor Report",
    "+----------------------------------------------------------------------------+",
    "| GPU ID: 0                                                                  |",
    "| Overall Health: Failure                                                    |",
    "|  -> Memory system: Failure                                                 |",
    "|     DCGM_FR_VOLATILE_DBE_DETECTED: Detected «small» volatile double-bit ECC error(s) in GPU 0.|",
], "serve")
S("hw-ecc-c10-error", C, ["vllm", "sglang", "pytorch"], "c10::Error naming an uncorrectable ECC error (PyTorch C++ wording)", [
    "terminate called after throwing an instance of 'c10::Error'",
    "  what():  CUDA error: uncorrectable ECC error encountered",
    "CUDA kernel errors might be asynchronously reported at some other API call, so the stacktrace below might be incorrect.",
    "Exception raised from c10_cuda_check_implementation at ../c10/cuda/CUDAException.cpp:«line» (most recent call first):",
], "serve")
S("hw-nccl-unknown-then-xid", C, ["vllm", "pytorch"], "synthetic cascade: CUDA unknown error in NCCL with Xid 79 in dmesg", [
    "«host»:«pid»:«pid» [0] NCCL WARN Cuda failure 'unspecified launch failure'",
    "RuntimeError: CUDA error: unspecified launch failure",
    "$ dmesg | grep -i xid",
    "[«kts»] NVRM: Xid (PCI:«pcifull»): 79, pid=«xid_pid», GPU has fallen off the bus.",
], "serve")
S("hw-smi-err-fields", C, ALL_SERVERS, "nvidia-smi table showing ERR! for a failed GPU (nvidia-smi wording)", [
    "+-----------------------------------------------------------------------------------------+",
    "| NVIDIA-SMI «driver»              Driver Version: «driver»      CUDA Version: «cuda»     |",
    "|   0  ERR!                           On  |   «pcifull» Off |                 ERR! |",
    "|ERR!  ERR! ERR!             ERR! / ERR! |   ERR!MiB / 81559MiB |    ERR!      Default |",
    "+-----------------------------------------------------------------------------------------+",
], "init")
S("hw-paraphrase-ecc", C, ALL_SERVERS, "synthetic: an operator's paraphrase of an ECC failure", [
    "@E GPU «pcifull» reports uncorrectable double-bit ECC errors; the card needs to be drained and replaced",
], "serve")
S("hw-gpu-requires-reset", C, ALL_SERVERS, "nvidia-smi wording for a GPU that needs a reset (recalled)", [
    "GPU «pcifull»: GPU requires reset",
    "Unable to determine the device handle for GPU «pcifull»: GPU requires reset",
], "init")

# =============================================================== no-gpu-visible
C = "no-gpu-visible"
S("nogpu-vllm-ray-no-gpu", C, ["vllm"], "vLLM Ray executor error when the node has no GPU (recalled)", [
    "TB",
    "ValueError: Current node has no GPU available. current_node_resource={'CPU': «small».0, 'memory': «n2»1234.0, 'node:«ip»': 1.0, 'object_store_memory': «n2»567.0}. vLLM engine cannot start without GPU. Make sure you have at least 1 GPU available in a node current_node_id='«hex40»' current_ip='«ip»'.",
], "init")
S("nogpu-cli-libnvidia-ml", C, ALL_SERVERS, "nvidia-container-cli without the driver libraries on the node (recalled)", [
    "  Warning  Failed     «age» (x«count» over «age»)  kubelet  Error: failed to create containerd task: failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: error during container init: error running hook #0: error running hook: exit status 1, stdout: , stderr: nvidia-container-cli: initialization error: load library failed: libnvidia-ml.so.1: cannot open shared object file: no such file or directory: unknown",
], "init")
S("nogpu-nvml-unknown-error", C, ALL_SERVERS, "NVML 'Unknown Error' after the container lost its GPU device cgroup (recalled from toolkit issues)", [
    "$ nvidia-smi",
    "Failed to initialize NVML: Unknown Error",
    "@E torch.cuda.is_available() returned False",
], "init")
S("nogpu-ollama-init-100", C, ["ollama"], "Ollama driver init failure with CUDA_ERROR_NO_DEVICE (recalled)", [
    'time=«iso» level=INFO source=gpu.go:«line» msg="unable to load cuda driver library" library=/usr/lib/x86_64-linux-gnu/libcuda.so.«driver» error="cuda driver library init failure: 100"',
    'time=«iso» level=INFO source=gpu.go:«line» msg="no compatible GPUs were discovered"',
], "init")
S("nogpu-tf-no-drivers", C, ["pytorch"], "TensorFlow's message without CUDA drivers (recalled)", [
    "«iso»: I external/local_xla/xla/tsl/cuda/cudart_stub.cc:«line»] Could not find cuda drivers on your machine, GPU will not be used.",
    "@E expected a GPU but none is available",
], "init")
S("nogpu-paraphrase-limit", C, ALL_SERVERS, "synthetic: an entrypoint check noticing the missing GPU resource", [
    "@E no NVIDIA GPU found in the container (nvidia.com/gpu limit missing?); CUDA_VISIBLE_DEVICES is empty",
], "init")
S("nogpu-paraphrase-device-count", C, ALL_SERVERS, "synthetic: a wrapper's paraphrase of zero visible devices", [
    "@E torch sees 0 CUDA devices; refusing to serve «model» on CPU",
], "init")
S("nogpu-sglang-no-cuda", C, ["sglang"], "SGLang start-up without a visible GPU (PyTorch wording inside SGLang)", [
    "[«hhmmss»] Scheduler hit an exception: Traceback (most recent call last):",
    "FR",
    "RuntimeError: No CUDA GPUs are available",
], "init")
S("nogpu-llamacpp-cpu-only", C, ["llama.cpp"], "llama.cpp built with CUDA finding no device (recalled)", [
    "ggml_cuda_init: failed to initialize CUDA: no CUDA-capable device is detected",
    "load_backend: loaded CPU backend from /app/libggml-cpu-haswell.so",
], "init")

# =============================================================== config-error
C = "config-error"
S("cfg-pp-layers", C, ["vllm"], "vLLM pipeline parallel divisibility check (recalled)", [
    "TB",
    "ValueError: Total number of hidden layers («heads») must be divisible by pipeline parallel size («tp»).",
], "init")
S("cfg-unknown-quant", C, ["vllm"], "vLLM unknown quantization method (recalled)", [
    "TB",
    "ValueError: Unknown quantization method: gptq-int4. Must be one of ['aqlm', 'awq', 'deepspeedfp', 'tpu_int8', 'fp8', 'fbgemm_fp8', 'modelopt', 'marlin', 'gguf', 'gptq_marlin_24', 'gptq_marlin', 'awq_marlin', 'gptq', 'compressed-tensors', 'bitsandbytes', 'qqq', 'hqq', 'experts_int8', 'neuron_quant', 'ipex'].",
], "init")
S("cfg-trust-remote-code", C, ["vllm", "pytorch", "tgi", "sglang"], "transformers trust_remote_code requirement (recalled)", [
    "TB",
    "ValueError: Loading «model» requires you to execute the configuration file in that repo on your local machine. Make sure you have read the code there to avoid malicious use, then set the option `trust_remote_code=True` to remove this error.",
], "init")
S("cfg-bf16-other-gpu", C, ["vllm", "sglang"], "vLLM bfloat16 capability check on a Volta GPU (recalled)", [
    "TB",
    "ValueError: Bfloat16 is only supported on GPUs with compute capability of at least 8.0. Your Tesla V100-SXM2-32GB GPU has compute capability 7.0. You can use float16 instead by explicitly setting the `dtype` flag in CLI, for example: --dtype=half.",
], "init")
S("cfg-tgi-quantize-choice", C, ["tgi"], "clap invalid value with possible values (recalled)", [
    "error: invalid value 'bitsandbytes-nf5' for '--quantize <QUANTIZE>'",
    "  [possible values: awq, compressed-tensors, eetq, exl2, gptq, marlin, bitsandbytes, bitsandbytes-nf4, bitsandbytes-fp4, fp8]",
    "",
    "For more information, try '--help'.",
], "init")
S("cfg-sglang-quant-choice", C, ["sglang"], "argparse invalid choice for SGLang quantization (Python wording)", [
    "launch_server.py: error: argument --quantization: invalid choice: 'gptq_int4' (choose from 'awq', 'fp8', 'gptq', 'marlin', 'gptq_marlin', 'awq_marlin', 'bitsandbytes', 'gguf', 'modelopt', 'w8a8_int8', 'w8a8_fp8')",
], "init")
S("cfg-ollama-unknown-command", C, ["ollama"], "ollama CLI unknown command (cobra wording)", [
    'Error: unknown command "server" for "ollama"',
    "",
    "Did you mean this?",
    "\tserve",
    "",
    "Run 'ollama --help' for usage.",
], "init")
S("cfg-triton-no-repo", C, ["triton"], "tritonserver without a model repository (approximate wording)", [
    "error: creating server: Invalid argument - --model-repository must be specified",
], "init")
S("cfg-missing-secret", C, ALL_SERVERS, "kubelet CreateContainerConfigError for a missing Secret (Kubernetes wording)", [
    "  Warning  Failed     «age» (x«count» over «age»)  kubelet  Error: secret \"hf-token\" not found",
    "    State:          Waiting",
    "      Reason:       CreateContainerConfigError",
], "init")
S("cfg-missing-configmap-key", C, ALL_SERVERS, "kubelet CreateContainerConfigError for a missing ConfigMap key (Kubernetes wording)", [
    "  Warning  Failed     «age» (x«count» over «age»)  kubelet  Error: couldn't find key MAX_MODEL_LEN in ConfigMap default/llm-config",
], "init")
S("cfg-missing-env", C, PY_SERVERS, "KeyError for a missing environment variable (Python wording)", [
    "TB",
    '  File "/app/«script»", line «line», in <module>',
    '    MODEL_ID = os.environ["MODEL_ID"]',
    "KeyError: 'MODEL_ID'",
], "init")
S("cfg-cannot-assign-address", C, ["vllm", "sglang", "pytorch"], "uvicorn bind failure on an address the pod lacks (recalled)", [
    "ERROR:    [Errno 99] error while attempting to bind on address ('::1', «port», 0, 0): cannot assign requested address",
], "serve")
S("cfg-paraphrase-tp", C, ALL_SERVERS, "synthetic: a launcher's paraphrase of an impossible tensor-parallel size", [
    "@E --tensor-parallel-size «tp» does not divide the model's «heads» attention heads; choose a divisor",
], "init")
S("cfg-paraphrase-unknown-flag", C, ALL_SERVERS, "synthetic: a wrapper rejecting an unknown option", [
    "@E unknown option «badarg»; see --help for the supported flags",
], "init")
S("cfg-json-args", C, ["vllm", "sglang"], "JSON parse error in an arguments override (Python wording)", [
    "TB",
    '  File "«site»/vllm/engine/arg_utils.py", line «line», in parse_type',
    "    return json.loads(val)",
    "json.decoder.JSONDecodeError: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)",
    "vllm serve: error: argument --speculative-config: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)",
], "init")

# =============================================================== startup-probe-kill
C = "startup-probe-kill"
PROBE_RESET = [
    "  Warning  Unhealthy  «age» (x«count» over «age»)  kubelet  Startup probe failed: Get \"http://«ip»:«port»/health\": read tcp «ip»:«mport»->«ip»:«port»: read: connection reset by peer",
    "  Normal   Killing    «age»                  kubelet  Container «container» failed startup probe, will be restarted",
]
OLD_KUBELET = [
    "  Warning  Unhealthy  «age» (x«count» over «age»)  kubelet, gpu-node-«small»  Liveness probe failed: Get http://«ip»:«port»/health: dial tcp «ip»:«port»: connect: connection refused",
    "  Normal   Killing    «age»                  kubelet, gpu-node-«small»  Killing container with id containerd://«container»:Container failed liveness probe.. Container will be killed and recreated.",
]
S("probe-events-reset", C, ALL_SERVERS, "kubelet startup probe Events with connection reset (Kubernetes wording)", [], "load", PROBE_RESET)
S("probe-events-old-kubelet", C, ALL_SERVERS, "older kubelet wording for a liveness kill (Kubernetes wording)", [], "load", OLD_KUBELET)
S("probe-exit-143", C, ALL_SERVERS, "kubectl describe with exit 143 (SIGTERM) and probe Events (Kubernetes wording)", [], "load", [
    "    Last State:     Terminated",
    "      Reason:       Error",
    "      Exit Code:    143",
    "    Restart Count:  «restarts»",
    "    Liveness:       http-get http://:«port»/health delay=60s timeout=5s period=10s #success=1 #failure=3",
] + K8S_EVENTS_HEAD + [
    "  Warning  Unhealthy  «age» (x«count» over «age»)  kubelet  Liveness probe failed: Get \"http://«ip»:«port»/health\": dial tcp «ip»:«port»: connect: connection refused",
    "  Normal   Killing    «age»                  kubelet  Container «container» failed liveness probe, will be restarted",
])
S("probe-get-pods-running-restarts", C, ALL_SERVERS, "kubectl get pods plus the kill Event while the log shows loading (Kubernetes wording)", [], "load", [
    "$ kubectl get pods",
    "NAME                             READY   STATUS    RESTARTS      AGE",
    "«host»   0/1     Running   «restarts» («age» ago)   «age»",
    "  Normal   Killing    «age»  kubelet  Container «container» failed startup probe, will be restarted",
])
S("probe-tgi-waiting-many", C, ["tgi"], "TGI shard still loading when the liveness probe kills the pod (TGI + Kubernetes wording)", [
    "@I Waiting for shard to be ready... rank=0",
    "@I Waiting for shard to be ready... rank=0",
    "@I Waiting for shard to be ready... rank=0",
    "@I Waiting for shard to be ready... rank=0",
    "@I Waiting for shard to be ready... rank=0",
], "load", [
    "  Warning  Unhealthy  «age» (x«count» over «age»)  kubelet  Liveness probe failed: Get \"http://«ip»:80/health\": dial tcp «ip»:80: connect: connection refused",
    "  Normal   Killing    «age»                  kubelet  Container «container» failed liveness probe, will be restarted",
])
S("probe-one-line", C, ALL_SERVERS, "the kubelet's kill Event alone after a loading log (Kubernetes wording)", [], "load", [
    "  Normal   Killing    «age»  kubelet  Container «container» failed startup probe, will be restarted",
])
S("probe-vllm-sigterm-systemexit", C, ["vllm"], "vLLM engine core exiting on SIGTERM during load (approximate wording)", [
    "@I Received SIGTERM, shutting down engine core",
    "TB",
    '  File "«site»/vllm/v1/engine/core.py", line «line», in signal_handler',
    "    raise SystemExit()",
    "SystemExit",
], "load")
S("probe-paraphrase-slow", C, ALL_SERVERS, "synthetic: an operator's note on weights loading slower than the probe allows", [
    "# weights take ~«small» min to load from the PVC, startupProbe allows 5 min (failureThreshold 30 x periodSeconds 10); kubelet keeps restarting the pod",
], "load")

# =============================================================== unknown
C = "unknown"
S("unk-request-too-long", C, ["vllm"], "vLLM per-request validation error during healthy serving (recalled); not a crash", [
    "READY",
    "SERVING",
    "@E Error in chat completion: This model's maximum context length is «n» tokens. However, you requested «n2» tokens («n2» in the messages, «small» in the completion). Please reduce the length of the messages or completion.",
    'INFO:     «ip»:«mport» - "POST /v1/chat/completions HTTP/1.1" 400 Bad Request',
    "SERVING",
], "serve")
S("unk-preemption-warning", C, ["vllm"], "vLLM preemption warning during healthy serving (recalled); not a crash", [
    "READY",
    "SERVING",
    "@W Sequence group chatcmpl-«hex40» is preempted by PreemptionMode.RECOMPUTE mode because there is not enough KV cache space. This can affect the end-to-end performance. Increase gpu_memory_utilization or tensor_parallel_size to provide more KV cache memory. total_num_cumulative_preemption=1",
    "SERVING",
], "serve")
S("unk-illegal-instruction", C, ["llama.cpp", "ollama"], "CPU without the instruction set the build needs (shell wording)", [
    "Illegal instruction (core dumped)",
], "init")
S("unk-double-free", C, ALL_SERVERS, "glibc heap corruption abort (glibc wording)", [
    "free(): invalid pointer",
    "Aborted (core dumped)",
], "serve")
S("unk-glibc-version", C, ALL_SERVERS, "a binary built for a newer glibc (loader wording)", [
    "/app/llama-server: /lib/x86_64-linux-gnu/libc.so.6: version `GLIBC_2.38' not found (required by /app/libllama.so)",
], "init")
S("unk-torchvision-nms", C, PY_SERVERS, "torch/torchvision version skew (recalled)", [
    "TB",
    "RuntimeError: operator torchvision::nms does not exist",
], "init")
S("unk-pip-install", C, PY_SERVERS, "pip failure in an entrypoint that installs packages (pip wording)", [
    "+ pip install -r /app/requirements.txt",
    "ERROR: Could not find a version that satisfies the requirement vllm==«vllm_ver»post9 (from versions: 0.6.1, 0.6.2, 0.6.3)",
    "ERROR: No matching distribution found for vllm==«vllm_ver»post9",
], "init")
S("unk-ollama-client", C, ["ollama"], "ollama client without a server (recalled)", [
    "Error: could not connect to ollama app, is it running?",
], "init")
S("unk-curl-sidecar", C, ALL_SERVERS, "a readiness script failing to reach the server (curl wording)", [
    "curl: (7) Failed to connect to localhost port «port» after 0 ms: Couldn't connect to server",
    "model server not up yet, retrying in 5s",
], "load")
S("unk-engine-dead", C, ["vllm"], "vLLM engine loop death after a request-time error (recalled)", [
    "READY",
    "SERVING",
    "@E Engine background task failed",
    "TB",
    "vllm.engine.async_llm_engine.AsyncEngineDeadError: Task finished unexpectedly. This should never happen! Please open an issue on Github. See stack trace above for the actual cause.",
], "serve")
S("unk-healthy-warnings", C, ALL_SERVERS, "synthetic: a healthy start-up full of scary-looking warnings", [
    "@W gpu_memory_utilization is high; if you see CUDA out of memory errors, lower it",
    "@W NCCL_P2P_DISABLE is not set; using P2P between GPUs",
    "READY",
    "SERVING",
], "serve")
S("unk-sigterm-rollout", C, ALL_SERVERS, "synthetic: a rollout terminating a healthy pod", [
    "READY",
    "SERVING",
    "SHUTDOWN",
], "serve", [
    "  Normal  Killing  «age»  kubelet  Stopping container «container»",
])
S("unk-type-error-template", C, PY_SERVERS, "jinja2 template error in a custom chat template (jinja2 wording)", [
    "TB",
    "jinja2.exceptions.TemplateSyntaxError: unexpected '}'",
], "init")
S("unk-assertion-app", C, PY_SERVERS, "AssertionError with a message in app code (Python wording)", [
    "TB",
    "AssertionError: expected a list of messages, got dict",
], "serve")
S("unk-name-error", C, PY_SERVERS, "NameError in a custom handler (Python wording)", [
    "TB",
    "NameError: name 'tokenizer' is not defined",
], "init")
S("unk-exit-code-1", C, ALL_SERVERS, "kubectl describe for a container that exited 1 without an obvious cause (Kubernetes wording)", [
    "READY",
], "serve", [
    "    Last State:     Terminated",
    "      Reason:       Error",
    "      Exit Code:    1",
    "  Warning  BackOff  «age» (x«count» over «age»)  kubelet  Back-off restarting failed container «container» in pod «host»_default(«uuid»)",
])
