"""Hand-written seed messages: the failure text of each class, many phrasings.

A seed is one way a failure shows in a log: its lines (with «slots»), the
servers whose logs carry it, the start-up stage at which it happens, and its
origin. The wording is written from memory of the projects' sources and of
logs pasted in public issue threads, so it is close to, but not guaranteed
to be, byte-identical to any particular release; `origin` says which source
each phrasing imitates, and "synthetic" marks wording made up to widen the
variety (paraphrases, hypothetical wrappers).

Line markers: "TB" = a Python traceback header plus frames of the window's
server; "FR" = frames only; "@I "/"@W "/"@E " = a line written through the
server's logger at that level. Everything else is raw text.
"""

from dataclasses import dataclass, field

ALL_SERVERS = ["vllm", "tgi", "sglang", "triton", "ollama", "llama.cpp", "pytorch"]
PY_SERVERS = ["vllm", "tgi", "sglang", "pytorch", "triton"]


@dataclass
class Seed:
    id: str
    cls: str
    servers: list
    origin: str
    lines: list
    stage: str = "profile"
    # Extra context lines appended after the server's crash tail (kubectl describe, events).
    after: list = field(default_factory=list)


SEEDS = []


def S(id, cls, servers, origin, lines, stage="profile", after=None):
    SEEDS.append(Seed(id, cls, servers, origin, lines, stage, after or []))


CUDA_ASYNC = [
    "CUDA kernel errors might be asynchronously reported at some other API call, so the stacktrace below might be incorrect.",
    "For debugging consider passing CUDA_LAUNCH_BLOCKING=1",
    "Compile with `TORCH_USE_CUDA_DSA` to enable device-side assertions.",
]

# =============================================================== cuda-driver-mismatch
C = "cuda-driver-mismatch"
S("drv-torch-too-old", C, PY_SERVERS, "PyTorch wording, torch/cuda/__init__.py _check_driver (recalled)", [
    "TB",
    '  File "«site»/torch/cuda/__init__.py", line «line», in _lazy_init',
    "    torch._C._cuda_init()",
    "RuntimeError: The NVIDIA driver on your system is too old (found version «drvint»). Please update your GPU driver by downloading and installing a new version from the URL: http://www.nvidia.com/Download/index.aspx Alternatively, go to: https://pytorch.org to install a PyTorch version that has been compiled with your version of the CUDA driver.",
], "init")
S("drv-torch-too-old-warning-then-nogpu", C, ["vllm", "sglang", "pytorch", "tgi"], "PyTorch UserWarning 'CUDA initialization: The NVIDIA driver on your system is too old' followed by the consequence (recalled from issue logs)", [
    "«site»/torch/cuda/__init__.py:«line»: UserWarning: CUDA initialization: The NVIDIA driver on your system is too old (found version «drvint»). Please update your GPU driver by downloading and installing a new version from the URL: http://www.nvidia.com/Download/index.aspx Alternatively, go to: https://pytorch.org to install a PyTorch version that has been compiled with your version of the CUDA driver. (Triggered internally at ../c10/cuda/CUDAFunctions.cpp:108.)",
    "  return torch._C._cuda_getDeviceCount() > 0",
    "TB",
    "RuntimeError: No CUDA GPUs are available",
], "init")
S("drv-vllm-infer-device-after-old-driver", C, ["vllm"], "vLLM platform detection failing after the PyTorch old-driver warning (recalled from vLLM issue logs)", [
    "«site»/torch/cuda/__init__.py:«line»: UserWarning: CUDA initialization: The NVIDIA driver on your system is too old (found version «drvint»). Please update your GPU driver by downloading and installing a new version from the URL: http://www.nvidia.com/Download/index.aspx Alternatively, go to: https://pytorch.org to install a PyTorch version that has been compiled with your version of the CUDA driver. (Triggered internally at /pytorch/c10/cuda/CUDAFunctions.cpp:109.)",
    "@I No platform detected, vLLM is running on UnspecifiedPlatform",
    "TB",
    "RuntimeError: Failed to infer device type",
], "init")
S("drv-insufficient-runtime", C, ["vllm", "sglang", "pytorch", "tgi"], "CUDA runtime error string cudaErrorInsufficientDriver as raised by PyTorch (recalled)", [
    "TB",
    "RuntimeError: CUDA error: CUDA driver version is insufficient for CUDA runtime version",
] + CUDA_ASYNC, "init")
S("drv-ggml-insufficient", C, ["llama.cpp", "ollama"], "llama.cpp ggml-cuda init failure text (recalled)", [
    "ggml_cuda_init: failed to initialize CUDA: CUDA driver version is insufficient for CUDA runtime version",
    "warning: no usable GPU found, --gpu-layers option will be ignored",
    "warning: one possible reason is that llama.cpp was compiled without GPU support",
    "warning: consult docs/build.md for compilation instructions",
], "init")
S("drv-ggml-forward-compat", C, ["llama.cpp", "ollama"], "llama.cpp CUDA error 804 text (recalled from llama.cpp issues)", [
    "ggml_cuda_init: failed to initialize CUDA: forward compatibility was attempted on non supported HW",
    "warning: no usable GPU found, --gpu-layers option will be ignored",
], "init")
S("drv-container-cli-requirement", C, ALL_SERVERS, "nvidia-container-cli requirement check wording, as shown in pod Events (recalled from NVIDIA container toolkit issues)", [
    "Error: failed to create containerd task: failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: error during container init: error running hook #0: error running hook: exit status 1, stdout: , stderr: Auto-detected mode as 'legacy'",
    "nvidia-container-cli: requirement error: unsatisfied condition: cuda>=«cuda», please update your driver to a newer version, or use an earlier cuda container: unknown",
], "init")
S("drv-container-cli-brand", C, ALL_SERVERS, "nvidia-container-cli requirement wording with a brand clause, kubectl describe form (synthetic variant of the toolkit message)", [
    "  Warning  Failed     «age» (x«count» over «age»)  kubelet  Error: failed to create containerd task: failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: error during container init: error running prestart hook #0: exit status 1, stdout: , stderr: nvidia-container-cli: requirement error: unsatisfied condition: cuda>=12.«small», brand = tesla, driver>=535: unknown",
    "  Warning  BackOff    «age» (x«count» over «age»)  kubelet  Back-off restarting failed container «container» in pod «host»_default(«uuid»)",
], "init")
S("drv-nvml-mismatch", C, ALL_SERVERS, "NVML error string 'Driver/library version mismatch' from nvidia-smi (recalled)", [
    "+ nvidia-smi",
    "Failed to initialize NVML: Driver/library version mismatch",
    "NVML library version: «driver»",
], "init")
S("drv-nvml-mismatch-torch", C, ["vllm", "pytorch", "sglang"], "PyTorch NVML warning with the driver/library mismatch reason (synthetic combination)", [
    "«site»/torch/cuda/__init__.py:«line»: UserWarning: Can't initialize NVML",
    "  warnings.warn(\"Can't initialize NVML\")",
    "pynvml.NVMLError_LibRmVersionMismatch: RM has detected an NVML/RM version mismatch.",
    "Failed to initialize NVML: Driver/library version mismatch",
], "init")
S("drv-no-kernel-image", C, ["vllm", "sglang", "pytorch", "tgi"], "CUDA error 'no kernel image is available for execution on the device' (PyTorch/vLLM issue logs, recalled)", [
    "TB",
    "RuntimeError: CUDA error: no kernel image is available for execution on the device",
] + CUDA_ASYNC, "load")
S("drv-sm-not-compatible", C, ["vllm", "pytorch", "sglang", "tgi"], "PyTorch UserWarning about unsupported compute capability, then no kernel image (recalled from RTX 50xx issue threads)", [
    "«site»/torch/cuda/__init__.py:«line»: UserWarning: ",
    "NVIDIA GeForce RTX 5090 with CUDA capability sm_120 is not compatible with the current PyTorch installation.",
    "The current PyTorch install supports CUDA capabilities sm_50 sm_60 sm_70 sm_75 sm_80 sm_86 sm_90.",
    "If you want to use the NVIDIA GeForce RTX 5090 GPU with PyTorch, please check the instructions at https://pytorch.org/get-started/locally/",
    "  warnings.warn(",
    "TB",
    "RuntimeError: CUDA error: no kernel image is available for execution on the device",
], "load")
S("drv-ptx-toolchain", C, ["vllm", "sglang", "pytorch"], "CUDA error 'the provided PTX was compiled with an unsupported toolchain' (Triton/vLLM issue logs, recalled)", [
    "TB",
    '  File "«site»/triton/backends/nvidia/driver.py", line «line», in __call__',
    "    self.launch(*args, **kwargs)",
    "RuntimeError: Triton Error [CUDA]: the provided PTX was compiled with an unsupported toolchain.",
], "profile")
S("drv-error-803", C, ["vllm", "pytorch", "sglang", "tgi"], "PyTorch cudaGetDeviceCount warning with error 803 (recalled)", [
    "«site»/torch/cuda/__init__.py:«line»: UserWarning: CUDA initialization: Unexpected error from cudaGetDeviceCount(). Did you run some cuda functions before calling NumCudaDevices() that might have already set an error? Error 803: system has unsupported display driver / cuda driver combination (Triggered internally at ../c10/cuda/CUDAFunctions.cpp:108.)",
    "  return torch._C._cuda_getDeviceCount() > 0",
], "init")
S("drv-error-804", C, ["vllm", "pytorch", "sglang"], "PyTorch cudaGetDeviceCount error 804 forward compatibility (recalled)", [
    "TB",
    "RuntimeError: Unexpected error from cudaGetDeviceCount(). Did you run some cuda functions before calling NumCudaDevices() that might have already set an error? Error 804: forward compatibility was attempted on non supported HW",
], "init")
S("drv-ngc-banner", C, ["triton", "pytorch", "vllm"], "NGC container entrypoint banner when the driver is too old (recalled)", [
    "ERROR: This container was built for NVIDIA Driver Release «driver» or later, but",
    "       version «driver» was detected and compatibility mode is UNAVAILABLE.",
    "",
    "       [[CUDA Driver UNAVAILABLE (cuInit(0) returned 803)]]",
    "",
], "init")
S("drv-triton-insufficient", C, ["triton"], "Triton server CUDA init failure with insufficient driver (approximate Triton wording)", [
    "@W Unable to allocate pinned system memory, pinned memory pool will not be available: CUDA driver version is insufficient for CUDA runtime version",
    "@I CUDA memory pool disabled",
    "@E failed to load 'llm' version 1: Internal: unable to get number of CUDA devices: CUDA driver version is insufficient for CUDA runtime version",
], "init")
S("drv-ollama-cudart-35", C, ["ollama"], "Ollama GPU discovery wording for cudart init failure 35 (recalled from ollama issues)", [
    'time=«iso» level=WARN source=gpu.go:«line» msg="unable to load cudart library /usr/lib/ollama/libcudart.so.12.4.127: cudart init failure: 35"',
    'time=«iso» level=INFO source=gpu.go:«line» msg="no compatible GPUs were discovered"',
], "init")
S("drv-ollama-804", C, ["ollama"], "Ollama NVIDIA lookup error with error 804 (approximate ollama wording)", [
    'time=«iso» level=INFO source=gpu.go:«line» msg="error looking up nvidia GPU memory" error="cuda driver library failed to get device context 804"',
    'time=«iso» level=WARN source=gpu.go:«line» msg="unable to refresh free memory, using old values"',
], "init")
S("drv-tgi-shard-old-driver", C, ["tgi"], "TGI shard stderr with PyTorch old-driver RuntimeError (recalled from TGI issues)", [
    "@E Shard complete standard error output:",
    "TB",
    "RuntimeError: The NVIDIA driver on your system is too old (found version «drvint»). Please update your GPU driver by downloading and installing a new version from the URL: http://www.nvidia.com/Download/index.aspx Alternatively, go to: https://pytorch.org to install a PyTorch version that has been compiled with your version of the CUDA driver.",
], "load")
S("drv-cupy-insufficient", C, ["vllm", "pytorch"], "CuPy CUDARuntimeError naming cudaErrorInsufficientDriver (recalled)", [
    "TB",
    "cupy_backends.cuda.api.runtime.CUDARuntimeError: cudaErrorInsufficientDriver: CUDA driver version is insufficient for CUDA runtime version",
], "init")
S("drv-trtllm-insufficient", C, ["triton"], "TensorRT-LLM CUDA runtime error wording (synthetic paraphrase)", [
    "[TensorRT-LLM][ERROR] CUDA runtime error in ::cudaGetDeviceCount(&count): CUDA driver version is insufficient for CUDA runtime version (/workspace/tensorrt_llm/cpp/tensorrt_llm/common/cudaUtils.h:«line»)",
    "terminate called after throwing an instance of 'tensorrt_llm::common::TllmException'",
], "init")
S("drv-nccl-insufficient", C, ["vllm", "sglang", "pytorch"], "NCCL WARN Cuda failure with the insufficient-driver string (synthetic combination)", [
    "«host»:«pid»:«pid» [0] misc/cudawrap.cc:«line» NCCL WARN Cuda failure 'CUDA driver version is insufficient for CUDA runtime version'",
    "«host»:«pid»:«pid» [0] NCCL INFO init.cc:«line» -> 1",
    "TB",
    "torch.distributed.DistBackendError: NCCL error in: ../torch/csrc/distributed/c10d/ProcessGroupNCCL.cpp:«line», unhandled cuda error (run with NCCL_DEBUG=INFO for details), NCCL version «nccl»",
    "ncclUnhandledCudaError: Call to CUDA function failed.",
    "Last error:",
    "Cuda failure 'CUDA driver version is insufficient for CUDA runtime version'",
], "init")
S("drv-compat-not-supported", C, ["vllm", "pytorch", "triton", "tgi"], "CUDA_ERROR_COMPAT_NOT_SUPPORTED_ON_DEVICE from the cuda-compat libraries (recalled)", [
    "TB",
    "RuntimeError: CUDA driver error: forward compatibility was attempted on non supported HW (CUDA_ERROR_COMPAT_NOT_SUPPORTED_ON_DEVICE)",
], "init")
S("drv-system-driver-mismatch", C, ["vllm", "pytorch", "sglang"], "CUDA error 803 as a RuntimeError (synthetic paraphrase of cudaErrorSystemDriverMismatch)", [
    "TB",
    "RuntimeError: CUDA error: system has unsupported display driver / cuda driver combination",
] + CUDA_ASYNC[:2], "init")
S("drv-node-label-note", C, ALL_SERVERS, "synthetic: an operator's note plus the toolkit error, as pasted in issues", [
    "# node gpu-node-3: nvidia.com/cuda.driver.major=470, image built with CUDA «cuda»",
    "nvidia-container-cli: requirement error: unsatisfied condition: cuda>=«cuda», please update your driver to a newer version, or use an earlier cuda container: unknown",
], "init")

# =============================================================== kv-cache-oom
C = "kv-cache-oom"
S("kv-vllm-no-blocks", C, ["vllm"], "vLLM wording, vllm/worker/worker.py raise_if_cache_size_invalid (recalled; checked against public code search)", [
    "TB",
    "ValueError: No available memory for the cache blocks. Try increasing `gpu_memory_utilization` when initializing the engine.",
])
S("kv-vllm-no-blocks-v1", C, ["vllm"], "vLLM v1 wording, vllm/v1/core/kv_cache_utils.py check_enough_kv_cache_memory (recalled)", [
    "@I Available KV cache memory: «neggib» GiB",
    "TB",
    '  File "«site»/vllm/v1/core/kv_cache_utils.py", line «line», in check_enough_kv_cache_memory',
    '    raise ValueError("No available memory for the cache blocks. "',
    "ValueError: No available memory for the cache blocks. Try increasing `gpu_memory_utilization` when initializing the engine.",
])
S("kv-vllm-gpu-blocks-zero", C, ["vllm"], "vLLM v0 '# GPU blocks: 0' then the no-cache-blocks ValueError (recalled)", [
    "@I # GPU blocks: 0, # CPU blocks: «n»",
    "TB",
    "ValueError: No available memory for the cache blocks. Try increasing `gpu_memory_utilization` when initializing the engine.",
])
S("kv-vllm-maxlen-v0", C, ["vllm"], "vLLM v0 wording, vllm/worker/worker.py _check_if_can_support_max_seq_len (recalled; checked against public code search)", [
    "TB",
    "ValueError: The model's max seq len («n») is larger than the maximum number of tokens that can be stored in KV cache («n2»). Try increasing `gpu_memory_utilization` or decreasing `max_model_len` when initializing the engine.",
])
S("kv-vllm-maxlen-v1-estimate", C, ["vllm"], "vLLM v1 wording, vllm/v1/core/kv_cache_utils.py with estimated max model length (recalled; checked against public code search)", [
    "TB",
    "ValueError: To serve at least one request with the models's max seq len («n»), («gib» GiB KV cache is needed, which is larger than the available KV cache memory («gib2» GiB). Based on the available memory, the estimated maximum model length is «n3». Try increasing `gpu_memory_utilization` or decreasing `max_model_len` when initializing the engine.",
])
S("kv-vllm-maxlen-v1-gb", C, ["vllm"], "vLLM 0.8 wording with GB units, vllm/v1/core/kv_cache_utils.py (recalled)", [
    "TB",
    "ValueError: To serve at least one request with the models's max seq len («n»), («gib2» GB KV cache is needed, which is larger than the available KV cache memory («gibs» GB). Try increasing `gpu_memory_utilization` or decreasing `max_model_len` when initializing the engine.",
])
S("kv-vllm-maxlen-ray", C, ["vllm"], "vLLM v0 KV ValueError raised inside a Ray worker (recalled from vLLM issue logs)", [
    "ERROR worker.py:«line» -- Exception raised in creation task: The actor died because of an error raised in its creation task, ray::RayWorkerWrapper.__init__() (pid=«pid», ip=«ip», actor_id=«hex40», repr=<vllm.executor.ray_utils.RayWorkerWrapper object at «addr»>)",
    "TB",
    "ValueError: The model's max seq len («n») is larger than the maximum number of tokens that can be stored in KV cache («n2»). Try increasing `gpu_memory_utilization` or decreasing `max_model_len` when initializing the engine.",
])
S("kv-sglang-mem-fraction", C, ["sglang"], "SGLang wording, sglang/srt/model_executor/model_runner.py init_memory_pool (checked against public code search)", [
    "Load weight end. type=«arch», dtype=torch.bfloat16, avail mem=«gibs» GB, mem usage=«gib3» GB.",
    "TB",
    "RuntimeError: Not enough memory. Please try to increase --mem-fraction-static.",
])
S("kv-sglang-mem-fraction-current", C, ["sglang"], "SGLang wording with the current mem_fraction_static value (checked against public code search)", [
    "TB",
    "RuntimeError: Not enough memory. Please try to increase --mem-fraction-static. Current value: mem_fraction_static=«frac»",
])
S("kv-sglang-scheduler-exception", C, ["sglang"], "SGLang scheduler exception wrapper around the memory pool error (recalled from SGLang issue logs)", [
    "[«hhmmss» TP0] Scheduler hit an exception: Traceback (most recent call last):",
    "FR",
    "RuntimeError: Not enough memory. Please try to increase --mem-fraction-static.",
    "",
    "[«hhmmss»] Received sigquit from a child process. It usually means the child failed.",
])
S("kv-tgi-prefill", C, ["tgi"], "TGI wording, server/text_generation_server/models/flash_causal_lm.py warmup (checked against public code search)", [
    "@E Method Warmup encountered an error.",
    "TB",
    "RuntimeError: Not enough memory to handle «n» prefill tokens. You need to decrease `--max-batch-prefill-tokens`",
    "@E Server error: Not enough memory to handle «n» prefill tokens. You need to decrease `--max-batch-prefill-tokens`",
])
S("kv-tgi-backend-warmup", C, ["tgi"], "TGI launcher error after a failed warmup (recalled from TGI issues)", [
    'Error: Backend(Warmup(Generation("Not enough memory to handle «n» prefill tokens. You need to decrease `--max-batch-prefill-tokens`")))',
])
S("kv-tgi-total-tokens", C, ["tgi"], "TGI older warmup wording naming total and prefill tokens (recalled)", [
    "@E Method Warmup encountered an error.",
    "TB",
    "RuntimeError: Not enough memory to handle «n2» total tokens with «n» prefill tokens. You need to decrease `--max-batch-total-tokens` or `--max-batch-prefill-tokens`",
])
S("kv-llamacpp-kv-buffer", C, ["llama.cpp", "ollama"], "llama.cpp wording, llama_kv_cache_init / llama_new_context_with_model (recalled)", [
    "ggml_backend_cuda_buffer_type_alloc_buffer: allocating «mib2» MiB on device 0: cudaMalloc failed: out of memory",
    "llama_kv_cache_init: failed to allocate buffer for kv cache",
    "llama_new_context_with_model: llama_kv_cache_init() failed for self-attention cache",
    "llama_init_from_gpt_params: error: failed to create context with model '/models/«gguf»'",
    "main: error: unable to load model",
])
S("kv-llamacpp-init-from-model", C, ["llama.cpp", "ollama"], "llama.cpp newer wording, llama_init_from_model (checked against public code search)", [
    "llama_context: n_ctx = «n»",
    "ggml_backend_cuda_buffer_type_alloc_buffer: allocating «mib2» MiB on device 0: cudaMalloc failed: out of memory",
    "llama_init_from_model: failed to initialize the context: failed to allocate buffer for kv cache",
    "common_init_from_params: failed to create context with model '/models/«gguf»'",
    "srv    load_model: failed to load model, '/models/«gguf»'",
    "main: exiting due to model loading error",
])
S("kv-ollama-kv", C, ["ollama"], "Ollama runner exit carrying llama.cpp's KV-cache allocation failure (synthetic combination)", [
    "llama_kv_cache_init: failed to allocate buffer for kv cache",
    "llama_new_context_with_model: llama_kv_cache_init() failed for self-attention cache",
    'time=«iso» level=ERROR source=sched.go:«line» msg="error loading llama server" error="llama runner process has terminated: error:failed to create context with model \'/root/.ollama/models/blobs/sha256-«sha»\'"',
])
S("kv-vllm-v1-paraphrase-tokens", C, ["vllm"], "synthetic: paraphrase of the v1 KV capacity error naming token counts", [
    "@I GPU KV cache size: «kvtok» tokens",
    "TB",
    "ValueError: max_model_len («n») exceeds the KV cache capacity («n2» tokens) available with gpu_memory_utilization=«frac»; lower --max-model-len or raise --gpu-memory-utilization.",
])
S("kv-trtllm-blocks", C, ["triton"], "synthetic: TensorRT-LLM style KV-cache sizing failure", [
    "[TensorRT-LLM][INFO] Memory usage when calculating max tokens in paged kv cache: total: «gib3» GiB, available: «gibs» GiB",
    "[TensorRT-LLM][ERROR] Assertion failed: Not enough memory for the KV cache: requested «n» tokens but only «n2» fit with kv_cache_free_gpu_mem_fraction=«frac» (/workspace/tensorrt_llm/cpp/tensorrt_llm/batch_manager/kvCacheManager.cpp:«line»)",
])
S("kv-vllm-engine-init-wrapper", C, ["vllm"], "vLLM v1 EngineCore failure with the KV estimate in one logged line (recalled from vLLM issue logs)", [
    "@E EngineCore failed to start.",
    "TB",
    "ValueError: To serve at least one request with the model's max seq len («n»), «gib» GiB KV cache is needed, which is larger than the available KV cache memory («gibs» GiB). Try increasing `gpu_memory_utilization` or decreasing `max_model_len` when initializing the engine.",
])
S("kv-vllm-available-negative", C, ["vllm"], "vLLM v1 negative available KV memory followed by the ValueError (checked against public code search)", [
    "@I Memory profiling takes «secs» seconds",
    "@I Available KV cache memory: «neggib» GiB",
    "ValueError: No available memory for the cache blocks. Try increasing `gpu_memory_utilization` when initializing the engine.",
])
S("kv-sglang-context-len", C, ["sglang"], "synthetic: SGLang-style complaint that the KV pool is smaller than the context length", [
    "max_total_num_tokens=«n2», chunked_prefill_size=8192, max_prefill_tokens=16384, max_running_requests=«small», context_len=«n»",
    "TB",
    "ValueError: The KV cache pool (max_total_num_tokens=«n2») cannot hold one request of context_len=«n». Increase --mem-fraction-static or decrease --context-length.",
])

# =============================================================== gpu-oom
C = "gpu-oom"
S("oom-torch-new", C, PY_SERVERS, "PyTorch >= 2.2 OutOfMemoryError wording, c10/cuda/CUDACachingAllocator.cpp (recalled)", [
    "TB",
    "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate «gibs» GiB. GPU 0 has a total capacity of «gib3» GiB of which «mib» MiB is free. Process «pid» has «gib3» GiB memory in use. Of the allocated memory «gib3» GiB is allocated by PyTorch, and «mib» MiB is reserved by PyTorch but unallocated. If reserved but unallocated memory is large try setting PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True to avoid fragmentation.  See documentation for Memory Management  (https://pytorch.org/docs/stable/notes/cuda.html#environment-variables)",
], "load")
S("oom-torch-old", C, PY_SERVERS, "PyTorch < 2.2 OutOfMemoryError wording (recalled)", [
    "TB",
    "torch.cuda.OutOfMemoryError: CUDA out of memory. Tried to allocate «mib» MiB (GPU 0; «gib3» GiB total capacity; «gib3» GiB already allocated; «mib» MiB free; «gib3» GiB reserved in total by PyTorch) If reserved memory is >> allocated memory try setting max_split_size_mb to avoid fragmentation.  See documentation for Memory Management and PYTORCH_CUDA_ALLOC_CONF",
], "load")
S("oom-torch-runtimeerror", C, PY_SERVERS, "PyTorch 1.x RuntimeError form of CUDA OOM (recalled)", [
    "TB",
    "RuntimeError: CUDA out of memory. Tried to allocate «mib» MiB (GPU «rank»; «gib3» GiB total capacity; «gib3» GiB already allocated; «mib» MiB free; «gib3» GiB reserved in total by PyTorch)",
], "load")
S("oom-cuda-error-oom", C, PY_SERVERS, "CUDA error string 'out of memory' raised as RuntimeError (recalled)", [
    "TB",
    "RuntimeError: CUDA error: out of memory",
] + CUDA_ASYNC, "profile")
S("oom-cublas-alloc", C, PY_SERVERS, "cuBLAS handle allocation failure text (recalled from PyTorch issues)", [
    "TB",
    "RuntimeError: CUDA error: CUBLAS_STATUS_ALLOC_FAILED when calling `cublasCreate(handle)`",
], "profile")
S("oom-llamacpp-weights", C, ["llama.cpp", "ollama"], "llama.cpp weight buffer allocation failure (checked against public code search)", [
    "ggml_backend_cuda_buffer_type_alloc_buffer: allocating «mib2» MiB on device 0: cudaMalloc failed: out of memory",
    "alloc_tensor_range: failed to allocate CUDA0 buffer of size «bytes»",
    "llama_model_load: error loading model: unable to allocate CUDA0 buffer",
    "llama_load_model_from_file: failed to load model",
    "common_init_from_params: failed to load model '/models/«gguf»'",
], "load")
S("oom-llamacpp-compute", C, ["llama.cpp", "ollama"], "llama.cpp compute buffer allocation failure (checked against public code search)", [
    "ggml_backend_cuda_buffer_type_alloc_buffer: allocating «mib2» MiB on device 0: cudaMalloc failed: out of memory",
    "ggml_gallocr_reserve_n: failed to allocate CUDA0 buffer of size «bytes»",
    "graph_reserve: failed to allocate compute buffers",
    "llama_init_from_model: failed to initialize the context: failed to allocate compute pp buffers",
], "profile")
S("oom-ggml-cuda-error", C, ["llama.cpp", "ollama"], "ggml-cuda fatal CUDA error report (recalled from llama.cpp issues)", [
    "CUDA error: out of memory",
    "  current device: 0, in function ggml_cuda_pool_malloc at /app/ggml/src/ggml-cuda/ggml-cuda.cu:«line»",
    "  cudaMalloc((void **) &ptr, look_ahead_size)",
    "/app/ggml/src/ggml-cuda/ggml-cuda.cu:«line»: CUDA error",
], "serve")
S("oom-ollama-runner", C, ["ollama"], "Ollama runner termination with cudaMalloc failure (recalled from ollama issues)", [
    'time=«iso» level=ERROR source=sched.go:«line» msg="error loading llama server" error="llama runner process has terminated: cudaMalloc failed: out of memory"',
], "load")
S("oom-ollama-cuda-error", C, ["ollama"], "Ollama 'CUDA error: out of memory' runner exit (synthetic combination)", [
    "CUDA error: out of memory",
    "  current device: 0, in function alloc at ggml-cuda.cu:«line»",
    'time=«iso» level=ERROR source=server.go:«line» msg="llama runner terminated" error="exit status 2"',
    "Error: llama runner process has terminated: CUDA error: out of memory",
], "load")
S("oom-vllm-sampler-warmup", C, ["vllm"], "vLLM v1 sampler warmup OOM wording, vllm/v1/worker/gpu_model_runner.py (recalled)", [
    "TB",
    "RuntimeError: CUDA out of memory occurred when warming up sampler with «small» dummy requests. Please try lowering `max_num_seqs` or `gpu_memory_utilization` when initializing the engine.",
])
S("oom-vllm-free-memory", C, ["vllm"], "vLLM startup free-memory check wording, vllm/v1/worker/gpu_worker.py (checked against public code search)", [
    "TB",
    "ValueError: Free memory on device («gib2»/«gib3» GiB) on startup is less than desired GPU memory utilization («frac», «gib3» GiB). Decrease GPU memory utilization or reduce GPU memory used by other processes.",
], "init")
S("oom-vllm-cudagraph", C, ["vllm"], "vLLM OOM during CUDA graph capture (recalled from vLLM issue logs)", [
    "@I Capturing cudagraphs for decoding. This may lead to unexpected consequences if the model is not static. To run the model in eager mode, set 'enforce_eager=True' or use '--enforce-eager' in the CLI.",
    "TB",
    '  File "«site»/vllm/worker/model_runner.py", line «line», in capture_model',
    "    graph_runner.capture(**capture_inputs)",
    "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate «mib» MiB. GPU 0 has a total capacity of «gib3» GiB of which «mib» MiB is free. Including non-PyTorch memory, this process has «gib3» GiB memory in use.",
])
S("oom-sglang-cuda-graph", C, ["sglang"], "SGLang CUDA graph capture failure with its suggested fixes (recalled)", [
    "Capture cuda graph begin. This can take up to several minutes. avail mem=«gibs» GB",
    "TB",
    "Exception: Capture cuda graph failed: CUDA out of memory. Tried to allocate «mib» MiB. GPU 0 has a total capacity of «gib3» GiB of which «mib» MiB is free.",
    "Possible solutions:",
    "1. set --mem-fraction-static to a smaller value (e.g., 0.8 or 0.7)",
    "2. set --cuda-graph-max-bs to a smaller value (e.g., 16)",
    "3. disable torch compile by not using --enable-torch-compile",
    "4. disable CUDA graph by --disable-cuda-graph. (Not recommended. Huge performance loss)",
    "Open an issue on GitHub https://github.com/sgl-project/sglang/issues/new/choose",
])
S("oom-tgi-shard", C, ["tgi"], "TGI shard stderr with torch OOM while loading (recalled from TGI issues)", [
    "@E Error when initializing model",
    "TB",
    "torch.cuda.OutOfMemoryError: CUDA out of memory. Tried to allocate «mib» MiB. GPU 0 has a total capacity of «gib3» GiB of which «mib» MiB is free. Process «pid» has «gib3» GiB memory in use.",
], "load")
S("oom-transformers-load", C, ["pytorch", "triton"], "transformers from_pretrained moving weights to GPU then OOM (recalled)", [
    "TB",
    '  File "«site»/accelerate/utils/modeling.py", line «line», in set_module_tensor_to_device',
    "    new_value = value.to(device)",
    "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate «mib» MiB. GPU 0 has a total capacity of «gib3» GiB of which «mib» MiB is free. Of the allocated memory «gib3» GiB is allocated by PyTorch, and «mib» MiB is reserved by PyTorch but unallocated.",
], "load")
S("oom-trt-allocate", C, ["triton"], "TensorRT allocator out-of-memory messages (recalled)", [
    "[TRT] [E] 1: [defaultAllocator.cpp::allocate::«line»] Error Code 1: Cuda Runtime (out of memory)",
    "[TRT] [W] Requested amount of GPU memory («bytes» bytes) could not be allocated. There may not be enough free memory for allocation to succeed.",
    "[TRT] [E] 2: [executionContext.cpp::ExecutionContext::«line»] Error Code 2: OutOfMemory (no further information)",
], "load")
S("oom-onnxruntime", C, ["triton"], "onnxruntime CUDA allocator failure inside Triton (approximate wording)", [
    "@E failed to load 'llm' version 1: Internal: onnx runtime error 6: Exception during initialization: /workspace/onnxruntime/onnxruntime/core/framework/bfc_arena.cc:«line» void* onnxruntime::BFCArena::AllocateRawInternal(size_t, bool, onnxruntime::Stream*, bool, onnxruntime::WaitNotificationFn) Failed to allocate memory for requested buffer of size «bytes»",
], "load")
S("oom-cupy-alloc", C, ["vllm", "pytorch"], "CuPy out-of-memory error text (recalled)", [
    "TB",
    "cupy.cuda.memory.OutOfMemoryError: Out of memory allocating «bytes» bytes (allocated so far: «bytes» bytes).",
], "profile")
S("oom-rank-then-nccl", C, ["vllm", "sglang", "pytorch"], "synthetic cascade: OOM on one rank, NCCL watchdog on another (root cause is the OOM)", [
    "[rank1]: torch.OutOfMemoryError: CUDA out of memory. Tried to allocate «gibs» GiB. GPU 1 has a total capacity of «gib3» GiB of which «mib» MiB is free.",
    "[rank0]:[E«mmdd» «hhmmss».«pid»000 ProcessGroupNCCL.cpp:«line»] [Rank 0] Watchdog caught collective operation timeout: WorkNCCL(SeqNum=«seqnum», OpType=ALLREDUCE, NumelIn=«numel», NumelOut=«numel», Timeout(ms)=«timeout_ms») ran for «timeout_ms» milliseconds before timing out.",
], "profile")
S("oom-other-process", C, PY_SERVERS, "PyTorch OOM naming other processes on the GPU (recalled)", [
    "TB",
    "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate «gibs» GiB. GPU «rank» has a total capacity of «gib3» GiB of which «mib» MiB is free. Process «pid» has «gib3» GiB memory in use. Process «pid» has «gib3» GiB memory in use. Of the allocated memory «gib3» GiB is allocated by PyTorch, and «mib» MiB is reserved by PyTorch but unallocated.",
], "load")
S("oom-paraphrase-vram", C, ALL_SERVERS, "synthetic: a wrapper script's paraphrase of a GPU memory exhaustion", [
    "@E model server exited: GPU 0 ran out of device memory while loading «model» (needed «gib3» GiB, «gibs» GiB free)",
    "RuntimeError: CUDA error: out of memory",
], "load")
S("oom-jax-style", C, ["pytorch"], "CUDA_ERROR_OUT_OF_MEMORY as printed by XLA/Numba style allocators (synthetic variant)", [
    "E external/xla/xla/stream_executor/cuda/cuda_driver.cc:«line»] failed to alloc «bytes» bytes on host: CUDA_ERROR_OUT_OF_MEMORY: out of memory",
    "numba.cuda.cudadrv.driver.CudaAPIError: [2] Call to cuMemAlloc results in CUDA_ERROR_OUT_OF_MEMORY",
], "load")

# =============================================================== host-oom
C = "host-oom"
S("host-bash-killed", C, ["vllm", "tgi", "sglang", "pytorch", "llama.cpp"], "shell report of a SIGKILLed child, the usual trace of a cgroup OOM kill (recalled from issue logs)", [
    "/bin/bash: line 1:    «small» Killed                  python3 -m vllm.entrypoints.openai.api_server --model «model» --tensor-parallel-size «tp»",
], "load")
S("host-bare-killed", C, ["vllm", "sglang", "pytorch", "tgi", "llama.cpp"], "a bare 'Killed' line after weight loading (recalled from issue logs)", [
    "Killed",
], "load")
S("host-bad-alloc", C, ALL_SERVERS, "C++ std::bad_alloc termination text (recalled)", [
    "terminate called after throwing an instance of 'std::bad_alloc'",
    "  what():  std::bad_alloc",
    "Aborted (core dumped)",
], "load")
S("host-python-memoryerror", C, PY_SERVERS, "Python MemoryError while reading weights on the CPU (recalled)", [
    "TB",
    '  File "«site»/safetensors/torch.py", line «line», in load_file',
    "    result[k] = f.get_tensor(k)",
    "MemoryError",
], "load")
S("host-numpy-alloc", C, ["pytorch", "triton", "vllm"], "numpy _ArrayMemoryError wording (recalled)", [
    "TB",
    "numpy.core._exceptions._ArrayMemoryError: Unable to allocate «gib3» GiB for an array with shape («vocab», «hidden») and data type float32",
], "load")
S("host-cpu-allocator", C, PY_SERVERS, "PyTorch DefaultCPUAllocator failure wording (recalled)", [
    "TB",
    "RuntimeError: [enforce fail at alloc_cpu.cpp:«line»] data. DefaultCPUAllocator: not enough memory: you tried to allocate «bytes» bytes.",
], "load")
S("host-describe-oomkilled", C, ALL_SERVERS, "kubectl describe pod output for an OOMKilled container (Kubernetes wording)", [
    "    Last State:     Terminated",
    "      Reason:       OOMKilled",
    "      Exit Code:    137",
    "      Started:      «hhmmss»",
    "      Finished:     «hhmmss»",
    "    Ready:          False",
    "    Restart Count:  «restarts»",
    "    Limits:",
    "      memory:          «small»Gi",
    "      nvidia.com/gpu:  1",
], "load")
S("host-status-yaml", C, ALL_SERVERS, "kubectl get pod -o yaml containerStatuses for an OOMKilled container (Kubernetes wording)", [
    "    lastState:",
    "      terminated:",
    "        containerID: containerd://«sha»",
    "        exitCode: 137",
    "        finishedAt: \"2025-0«small»-1«small»T«hhmmss»Z\"",
    "        reason: OOMKilled",
    "        startedAt: \"2025-0«small»-1«small»T«hhmmss»Z\"",
    "    name: «container»",
    "    ready: false",
    "    restartCount: «restarts»",
], "load")
S("host-dmesg-memcg", C, ALL_SERVERS, "kernel memory-cgroup OOM killer lines (Linux wording)", [
    "[«kts»] python3 invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=999",
    "[«kts»] memory: usage «n2»kB, limit «n2»kB, failcnt «small»",
    "[«kts»] oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=cri-containerd-«hex40».scope,mems_allowed=0-1,oom_memcg=/kubepods.slice/kubepods-burstable.slice,task_memcg=/kubepods.slice/kubepods-burstable.slice/cri-containerd-«hex40».scope,task=python3,pid=«pid»,uid=0",
    "[«kts»] Memory cgroup out of memory: Killed process «pid» (python3) total-vm:«n2»kB, anon-rss:«n2»kB, file-rss:«n2»kB, shmem-rss:0kB, UID:0 pgtables:«n2»kB oom_score_adj:999",
], "load")
S("host-ray-oom", C, ["vllm"], "Ray memory monitor kill message (recalled from Ray/vLLM issues)", [
    "ray.exceptions.OutOfMemoryError: Task was killed due to the node running low on memory.",
    "Memory on the node (IP: «ip», ID: «hex40») where the task (actor ID: «hex8», name=RayWorkerWrapper.__init__, pid=«pid», memory used=«gib3»GB) was running was «gib3»GB / «gib3»GB (0.9«small»), which exceeds the memory usage threshold of 0.95. Ray killed this worker (ID: «hex40») because it was the most recently scheduled task; to see more information about memory usage on this node, use `ray logs raylet.out -ip «ip»`. To see the logs of the worker, use `ray logs worker-«hex40»*out -ip «ip». Top 10 memory users:",
    "PID\tMEM(GB)\tCOMMAND",
    "«pid»\t«gib3»\tray::RayWorkerWrapper",
], "load")
S("host-tgi-signal-9", C, ["tgi"], "TGI shard manager report of a shard killed by signal 9 (recalled from TGI issues)", [
    "@E Shard process was signaled to shutdown with signal 9 rank=0",
    "@E Shard 0 failed to start",
    "Error: ShardCannotStart",
], "load")
S("host-ollama-system-memory", C, ["ollama"], "Ollama system memory check wording (recalled from ollama issues)", [
    'time=«iso» level=WARN source=server.go:«line» msg="model request too large for system" requested="«gib3» GiB" available=«bytes» total="«gib3» GiB" free="«gib2» GiB" swap="0 B"',
    "Error: model requires more system memory («gib3» GiB) than is available («gib2» GiB)",
], "load")
S("host-ollama-signal-killed", C, ["ollama"], "Ollama runner killed by a signal while loading (recalled)", [
    'time=«iso» level=ERROR source=sched.go:«line» msg="error loading llama server" error="llama runner process has terminated: signal: killed"',
], "load")
S("host-ggml-cpu-alloc", C, ["llama.cpp", "ollama"], "llama.cpp CPU buffer allocation failure (recalled)", [
    "ggml_aligned_malloc: insufficient memory (attempted to allocate «mib2» MB)",
    "ggml_backend_cpu_buffer_type_alloc_buffer: failed to allocate buffer of size «bytes»",
    "llama_model_load: error loading model: unable to allocate CPU buffer",
], "load")
S("host-errno-12", C, PY_SERVERS, "OSError ENOMEM on fork (Python wording)", [
    "TB",
    '  File "/usr/lib/python«py»/multiprocessing/popen_fork.py", line «line», in _launch',
    "    self.pid = os.fork()",
    "OSError: [Errno 12] Cannot allocate memory",
], "load")
S("host-mmap-enomem", C, ["vllm", "pytorch", "sglang"], "safetensors mmap failure with ENOMEM (recalled)", [
    "TB",
    "RuntimeError: unable to mmap «bytes» bytes from file </root/.cache/huggingface/hub/models--«hex8»/snapshots/«hex40»/model-0000«shard_i»-of-0000«shard_n».safetensors>: Cannot allocate memory (12)",
], "load")
S("host-torchrun-sigkill", C, ["pytorch", "vllm"], "torchrun elastic agent report of exit code -9 (recalled)", [
    "W«mmdd» «hhmmss».«pid» torch/distributed/elastic/multiprocessing/api.py:«line»] Sending process «pid» closing signal SIGTERM",
    "E«mmdd» «hhmmss».«pid» torch/distributed/elastic/multiprocessing/api.py:«line»] failed (exitcode: -9) local_rank: 0 (pid: «pid») of binary: /usr/bin/python3",
    "torch.distributed.elastic.multiprocessing.errors.ChildFailedError: ",
    "============================================================",
    "server.py FAILED",
    "------------------------------------------------------------",
    "Root Cause (first observed failure):",
    "[0]:",
    "  exitcode  : -9 (pid: «pid»)",
    "  error_file: <N/A>",
    "  traceback : Signal 9 (SIGKILL) received by PID «pid»",
], "load")
S("host-eviction", C, ALL_SERVERS, "kubelet eviction Event for memory pressure (Kubernetes wording)", [
    "  Warning  Evicted    «age»  kubelet  The node was low on resource: memory. Threshold quantity: 100Mi, available: «n2»Ki. Container «container» was using «n2»Ki, request is «small»Gi, has larger consumption of memory.",
    "  Normal   Killing    «age»  kubelet  Stopping container «container»",
], "load")
S("host-dataloader-killed", C, ["pytorch"], "PyTorch DataLoader worker killed by the OOM killer (recalled)", [
    "TB",
    "RuntimeError: DataLoader worker (pid «pid») is killed by signal: Killed. ",
], "load")
S("host-go-oom", C, ["ollama"], "Go runtime out-of-memory fatal error (Go wording)", [
    "fatal error: runtime: out of memory",
    "",
    "runtime stack:",
    "runtime.throw({0x«hex8», 0x16})",
    "\truntime/panic.go:«line» +0x48 fp=0x«hex8» sp=0x«hex8» pc=0x«hex8»",
], "load")
S("host-vllm-worker-died-killed", C, ["vllm"], "vLLM worker death after a kernel OOM kill (synthetic combination of a dmesg line and vLLM's executor message)", [
    "[«kts»] Out of memory: Killed process «pid» (python3) total-vm:«n2»kB, anon-rss:«n2»kB, file-rss:0kB, shmem-rss:«n2»kB, UID:0 pgtables:«n2»kB oom_score_adj:0",
    "@E Worker proc VllmWorker-«rank» died unexpectedly, shutting down executor.",
], "load")
S("host-swap-space-killed", C, ["vllm"], "vLLM swap-space warning then a SIGKILL (recalled from vLLM issue logs)", [
    "@W Possibly too large swap space. «gib3» GiB out of the «gib3» GiB total CPU memory is allocated for the swap space.",
    "Killed",
], "load")
S("host-paraphrase-limit", C, ALL_SERVERS, "synthetic: an operator's paraphrase of a memory-limit kill", [
    "container «container» terminated: exit code 137 (OOMKilled) after using its «small»Gi memory limit while loading weights",
], "load")

# =============================================================== weight-load-failure
C = "weight-load-failure"
S("wl-gated-401", C, PY_SERVERS, "huggingface_hub GatedRepoError wording (recalled from HF hub issues)", [
    "TB",
    "huggingface_hub.errors.GatedRepoError: 401 Client Error. (Request ID: «reqid»)",
    "",
    "Cannot access gated repo for url https://huggingface.co/«gated»/resolve/main/config.json.",
    "Access to model «gated» is restricted. You must have access to it and be authenticated to access it. Please log in.",
], "download")
S("wl-gated-oserror", C, ["vllm", "pytorch", "triton", "sglang"], "transformers OSError for gated repos, transformers/utils/hub.py (recalled)", [
    "TB",
    "OSError: You are trying to access a gated repo.",
    "Make sure to have access to it at https://huggingface.co/«gated».",
    "401 Client Error. (Request ID: «reqid»)",
    "",
    "Cannot access gated repo for url https://huggingface.co/«gated»/resolve/main/config.json.",
    "Access to model «gated» is restricted. You must have access to it and be authenticated to access it. Please log in.",
], "download")
S("wl-gated-403", C, PY_SERVERS, "huggingface_hub 403 for a gated repo without approval (recalled)", [
    "TB",
    "huggingface_hub.errors.GatedRepoError: 403 Client Error. (Request ID: «reqid»)",
    "",
    "Cannot access gated repo for url https://huggingface.co/«gated»/resolve/main/model.safetensors.index.json.",
    "Access to model «gated» is restricted and you are not in the authorized list. Visit https://huggingface.co/«gated» to ask for access.",
], "download")
S("wl-repo-not-found", C, PY_SERVERS, "huggingface_hub RepositoryNotFoundError wording (recalled)", [
    "TB",
    "huggingface_hub.errors.RepositoryNotFoundError: 404 Client Error. (Request ID: «reqid»)",
    "",
    "Repository Not Found for url: https://huggingface.co/api/models/«model»/revision/main.",
    "Please make sure you specified the correct `repo_id` and `repo_type`.",
    "If you are trying to access a private or gated repo, make sure you are authenticated.",
    "Invalid username or password.",
], "download")
S("wl-not-valid-identifier", C, ["vllm", "pytorch", "triton", "sglang"], "transformers OSError 'is not a local folder and is not a valid model identifier' (recalled)", [
    "TB",
    "OSError: «model» is not a local folder and is not a valid model identifier listed on 'https://huggingface.co/models'",
    "If this is a private repository, make sure to pass a token having permission to this repo either by logging in with `huggingface-cli login` or by passing `token=<your_token>`",
], "download")
S("wl-offline-cache", C, PY_SERVERS, "huggingface_hub LocalEntryNotFoundError wording in offline mode (recalled)", [
    "TB",
    "huggingface_hub.errors.LocalEntryNotFoundError: Cannot find an appropriate cached snapshot folder for the specified revision on the local disk and outgoing traffic has been disabled. To enable repo look-ups and downloads online, pass 'local_files_only=False' as input.",
], "download")
S("wl-couldnt-connect", C, ["vllm", "pytorch", "triton", "sglang", "tgi"], "transformers OSError when huggingface.co is unreachable (recalled)", [
    "TB",
    "OSError: We couldn't connect to 'https://huggingface.co' to load this file, couldn't find it in the cached files and it looks like «model» is not the path to a directory containing a file named config.json.",
    "Checkout your internet connection or see how to run the library in offline mode at 'https://huggingface.co/docs/transformers/installation#offline-mode'.",
], "download")
S("wl-dns-maxretries", C, PY_SERVERS, "requests/urllib3 connection error to huggingface.co (recalled)", [
    "TB",
    "requests.exceptions.ConnectionError: (MaxRetryError(\"HTTPSConnectionPool(host='huggingface.co', port=443): Max retries exceeded with url: /api/models/«model»/revision/main (Caused by NameResolutionError(\\\"<urllib3.connection.HTTPSConnection object at «addr»>: Failed to resolve 'huggingface.co' ([Errno -3] Temporary failure in name resolution)\\\"))\"), '(Request ID: «uuid»)')",
], "download")
S("wl-header-too-large", C, ["vllm", "pytorch", "tgi", "sglang"], "safetensors_rust.SafetensorError HeaderTooLarge (recalled)", [
    "TB",
    "safetensors_rust.SafetensorError: Error while deserializing header: HeaderTooLarge",
], "load")
S("wl-metadata-incomplete", C, ["vllm", "pytorch", "tgi", "sglang"], "safetensors_rust.SafetensorError MetadataIncompleteBuffer (recalled)", [
    "TB",
    '  File "«site»/vllm/model_executor/model_loader/weight_utils.py", line «line», in safetensors_weights_iterator',
    "    with safe_open(st_file, framework=\"pt\") as f:",
    "safetensors_rust.SafetensorError: Error while deserializing header: MetadataIncompleteBuffer",
], "load")
S("wl-zip-central-directory", C, ["pytorch", "vllm", "tgi"], "torch.load of a truncated .bin checkpoint (recalled)", [
    "TB",
    "RuntimeError: PytorchStreamReader failed reading zip archive: failed finding central directory",
], "load")
S("wl-no-space", C, PY_SERVERS, "huggingface_hub disk-space warning then ENOSPC while downloading (recalled)", [
    "«site»/huggingface_hub/file_download.py:«line»: UserWarning: Not enough free disk space to download the file. The expected file size is: «mib2» MB. The target location /root/.cache/huggingface/hub/models--«hex8»/blobs only has «mib» MB free disk space.",
    "  warnings.warn(",
    "TB",
    "OSError: [Errno 28] No space left on device",
], "download")
S("wl-xet-no-space", C, PY_SERVERS, "hf-xet download error with ENOSPC (approximate wording)", [
    "TB",
    "RuntimeError: Data processing error: CAS service error : IO Error: No space left on device (os error 28)",
], "download")
S("wl-state-dict-size-mismatch", C, ["pytorch", "triton"], "torch load_state_dict size mismatch wording (recalled)", [
    "TB",
    "RuntimeError: Error(s) in loading state_dict for LlamaForCausalLM:",
    "\tsize mismatch for model.embed_tokens.weight: copying a param with shape torch.Size([«vocab», «hidden»]) from checkpoint, the shape in current model is torch.Size([«vocab», «hidden»]).",
    "\tsize mismatch for lm_head.weight: copying a param with shape torch.Size([«vocab», «hidden»]) from checkpoint, the shape in current model is torch.Size([«vocab», «hidden»]).",
], "load")
S("wl-vllm-weight-shape-assert", C, ["vllm"], "vLLM default_weight_loader shape assertion (recalled)", [
    "TB",
    '  File "«site»/vllm/model_executor/model_loader/weight_utils.py", line «line», in default_weight_loader',
    "    assert param.size() == loaded_weight.size(), (",
    "AssertionError: Attempted to load weight (torch.Size([«vocab», «hidden»])) into parameter (torch.Size([«vocab», «hidden»]))",
], "load")
S("wl-vllm-keyerror-param", C, ["vllm", "sglang"], "KeyError for a checkpoint tensor missing from the model's params_dict (recalled from vLLM issues)", [
    "TB",
    '  File "«site»/vllm/model_executor/models/llama.py", line «line», in load_weights',
    "    param = params_dict[name]",
    "KeyError: '«tensor»'",
], "load")
S("wl-vllm-arch-unsupported", C, ["vllm"], "vLLM model registry wording for unsupported architectures (recalled)", [
    "TB",
    "ValueError: Model architectures ['«arch»'] are not supported for now. Supported architectures: dict_keys(['AquilaModel', 'AquilaForCausalLM', 'ArcticForCausalLM', 'BaiChuanForCausalLM', 'BaichuanForCausalLM', 'BloomForCausalLM', 'CohereForCausalLM', 'DbrxForCausalLM', 'DeciLMForCausalLM', 'DeepseekForCausalLM', 'DeepseekV2ForCausalLM', 'FalconForCausalLM', 'GemmaForCausalLM', 'Gemma2ForCausalLM', 'GPT2LMHeadModel', 'GPTBigCodeForCausalLM', 'GPTJForCausalLM', 'GPTNeoXForCausalLM', 'InternLMForCausalLM', 'JAISLMHeadModel', 'LlamaForCausalLM', 'MistralForCausalLM', 'MixtralForCausalLM', 'MPTForCausalLM', 'OPTForCausalLM', 'PhiForCausalLM', 'Phi3ForCausalLM', 'QWenLMHeadModel', 'Qwen2ForCausalLM', 'Qwen2MoeForCausalLM', 'StableLmForCausalLM', 'Starcoder2ForCausalLM'])",
], "init")
S("wl-vllm-arch-pydantic", C, ["vllm"], "vLLM >= 0.10 pydantic ValidationError for unsupported architectures (recalled)", [
    "TB",
    "pydantic_core._pydantic_core.ValidationError: 1 validation error for ModelConfig",
    "  Value error, Model architectures ['«arch»'] are not supported for now. Supported architectures: dict_keys(['ApertusForCausalLM', 'AquilaModel', 'AquilaForCausalLM', 'ArceeForCausalLM', 'ArcticForCausalLM', 'MiniMaxForCausalLM', ...]) [type=value_error, input_value=ArgsKwargs((), {'model': ...}), input_type=ArgsKwargs]",
    "    For further information visit https://errors.pydantic.dev/2.11/v/value_error",
], "init")
S("wl-vllm-arch-inspect", C, ["vllm"], "vLLM registry inspection failure wording (recalled)", [
    "@E Error in inspecting model architecture '«arch»'",
    "TB",
    "ValueError: Model architectures ['«arch»'] failed to be inspected. Please check the logs for more details.",
], "init")
S("wl-transformers-model-type", C, ["vllm", "pytorch", "tgi", "sglang", "triton"], "transformers wording for an unknown model_type (recalled)", [
    "TB",
    "ValueError: The checkpoint you are trying to load has model type `«mtype»` but Transformers does not recognize this architecture. This could be because of an issue with the checkpoint, or because your version of Transformers is out of date.",
    "",
    "You can update Transformers with the command `pip install --upgrade transformers`. If this does not work, and the checkpoint is very new, then there may not be a release version that supports this model yet. In this case, you can get the most up-to-date code by installing Transformers from source with the command `pip install git+https://github.com/huggingface/transformers.git`",
], "init")
S("wl-transformers-keyerror-type", C, ["vllm", "pytorch", "tgi"], "transformers CONFIG_MAPPING KeyError for an unknown model_type (recalled)", [
    "TB",
    '  File "«site»/transformers/models/auto/configuration_auto.py", line «line», in __getitem__',
    "    raise KeyError(key)",
    "KeyError: '«mtype»'",
], "init")
S("wl-tgi-download-error", C, ["tgi"], "TGI download step failure (recalled from TGI issues)", [
    "@E Download encountered an error: ",
    "TB",
    "huggingface_hub.errors.GatedRepoError: 401 Client Error. (Request ID: «reqid»)",
    "Cannot access gated repo for url https://huggingface.co/«gated»/resolve/main/config.json.",
    "Error: DownloadError",
], "download")
S("wl-tgi-weight-missing", C, ["tgi"], "TGI weights.get_tensor wording (recalled)", [
    "TB",
    '  File "«site»/text_generation_server/utils/weights.py", line «line», in get_filename',
    '    raise RuntimeError(f"weight {tensor_name} does not exist")',
    "RuntimeError: weight «tensor» does not exist",
], "load")
S("wl-tgi-no-safetensors", C, ["tgi"], "TGI hub wording when no weights of the expected format exist (recalled)", [
    "@W No safetensors weights found for model «model» at revision None. Downloading PyTorch weights.",
    "TB",
    "huggingface_hub.errors.EntryNotFoundError: No .bin weights found for model «model» and revision None.",
], "download")
S("wl-gguf-magic", C, ["llama.cpp", "ollama"], "llama.cpp GGUF header failure wording (recalled)", [
    "gguf_init_from_file_impl: invalid magic characters: '\\x00\\x00\\x00\\x00', expected 'GGUF'",
    "llama_model_load: error loading model: llama_model_loader: failed to load model from /models/«gguf»",
    "llama_model_load_from_file_impl: failed to load model",
    "common_init_from_params: failed to load model '/models/«gguf»'",
    "main: error: unable to load model",
], "load")
S("wl-gguf-unknown-arch", C, ["llama.cpp", "ollama"], "llama.cpp unknown architecture wording (recalled)", [
    "llama_model_load: error loading model: error loading model architecture: unknown model architecture: '«garch»'",
    "llama_load_model_from_file: failed to load model",
    "llama_init_from_gpt_params: error: failed to load model '/models/«gguf»'",
], "load")
S("wl-gguf-wrong-shape", C, ["llama.cpp", "ollama"], "llama.cpp check_tensor_dims wording (recalled)", [
    "llama_model_load: error loading model: check_tensor_dims: tensor 'token_embd.weight' has wrong shape; expected  «hidden», «vocab», got  «hidden», «vocab»,     1,     1",
    "llama_model_load_from_file_impl: failed to load model",
], "load")
S("wl-gguf-missing-tensor", C, ["llama.cpp", "ollama"], "llama.cpp missing tensor / wrong tensor count wording (recalled)", [
    "llama_model_load: error loading model: done_getting_tensors: wrong number of tensors; expected «n2», got «n2»",
    "llama_load_model_from_file: failed to load model",
], "load")
S("wl-gguf-open-failed", C, ["llama.cpp"], "llama.cpp cannot open the model file (recalled)", [
    "gguf_init_from_file: failed to open GGUF file '/models/«gguf»' (No such file or directory)",
    "llama_model_load: error loading model: llama_model_loader: failed to load model from /models/«gguf»",
    "srv    load_model: failed to load model, '/models/«gguf»'",
    "main: exiting due to model loading error",
], "load")
S("wl-ollama-pull-manifest", C, ["ollama"], "ollama pull manifest error (recalled from ollama issues)", [
    "pulling manifest",
    "Error: pull model manifest: file does not exist",
], "download")
S("wl-ollama-registry-dns", C, ["ollama"], "ollama registry download error (recalled)", [
    "pulling manifest",
    'Error: pull model manifest: Get "https://registry.ollama.ai/v2/library/«omodel»/manifests/latest": dial tcp: lookup registry.ollama.ai on 10.96.0.10:53: no such host',
], "download")
S("wl-ollama-digest", C, ["ollama"], "ollama digest mismatch error (recalled)", [
    "Error: digest mismatch, file must be downloaded again: want sha256:«sha», got sha256:«sha»",
], "download")
S("wl-ollama-runner-load", C, ["ollama"], "ollama runner exit on a model load error (recalled)", [
    "llama_model_load: error loading model: error loading model vocabulary: unknown pre-tokenizer type: 'qwen2'",
    'time=«iso» level=ERROR source=sched.go:«line» msg="error loading llama server" error="llama runner process has terminated: error loading model: error loading model vocabulary: unknown pre-tokenizer type: \'qwen2\'"',
], "load")
S("wl-triton-model-file", C, ["triton"], "Triton model load failure for a missing model file (approximate Triton wording)", [
    "@E failed to load 'llm' version 1: Invalid argument: unable to find '/models/llm/1/model.plan' for model 'llm'",
], "load")
S("wl-triton-python-gated", C, ["triton"], "Triton python backend failing in initialize() with an HF hub error (synthetic combination)", [
    "@E failed to load 'llm' version 1: Internal: GatedRepoError: 401 Client Error. (Request ID: «reqid»)",
    "Cannot access gated repo for url https://huggingface.co/«gated»/resolve/main/config.json.",
    "Access to model «gated» is restricted. You must have access to it and be authenticated to access it. Please log in.",
    "",
    "At:",
    '  «site»/huggingface_hub/utils/_http.py(«line»): hf_raise_for_status',
    "  /models/llm/1/model.py(«line»): initialize",
], "download")
S("wl-no-config-json", C, ["vllm", "pytorch", "triton", "tgi", "sglang"], "transformers OSError 'does not appear to have a file named config.json' (recalled)", [
    "TB",
    "OSError: /mnt/models does not appear to have a file named config.json. Checkout 'https://huggingface.co//mnt/models/tree/None' for available files.",
], "init")
S("wl-missing-shard-file", C, ["vllm", "pytorch", "sglang"], "FileNotFoundError for a missing safetensors shard (Python wording)", [
    "TB",
    "FileNotFoundError: [Errno 2] No such file or directory: '/models/«hex8»/model-0000«shard_i»-of-0000«shard_n».safetensors'",
], "load")
S("wl-hf-429", C, PY_SERVERS, "huggingface_hub HfHubHTTPError 429 (recalled)", [
    "TB",
    "huggingface_hub.errors.HfHubHTTPError: 429 Client Error: Too Many Requests for url: https://huggingface.co/api/models/«model»/tree/main?recursive=True&expand=False",
], "download")
S("wl-cant-load-tokenizer", C, ["vllm", "pytorch", "tgi", "triton"], "transformers tokenizer loading OSError (recalled)", [
    "TB",
    "OSError: Can't load tokenizer for '«model»'. If you were trying to load it from 'https://huggingface.co/models', make sure you don't have a local directory with the same name. Otherwise, make sure '«model»' is the correct path to a directory containing all relevant files for a LlamaTokenizerFast tokenizer.",
], "init")
S("wl-hf-transfer", C, PY_SERVERS, "huggingface_hub hf_transfer failure wording (recalled)", [
    "TB",
    "RuntimeError: An error occurred while downloading using `hf_transfer`. Consider disabling HF_HUB_ENABLE_HF_TRANSFER for better error handling.",
], "download")
S("wl-invalid-token", C, PY_SERVERS, "huggingface_hub 401 with an invalid token (recalled)", [
    "TB",
    "huggingface_hub.errors.HfHubHTTPError: 401 Client Error: Unauthorized for url: https://huggingface.co/api/whoami-v2 (Request ID: «reqid»)",
    "",
    "Invalid credentials in Authorization header",
], "download")
# Filed as config-error since wave 26: its one real thread (vllm#1112) passed
# the wrong --quantization for the checkpoint (patterns/vllm.yaml).
S("wl-awq-config-missing", "config-error", ["vllm"], "vLLM quantization config lookup failure (recalled)", [
    "TB",
    "ValueError: Cannot find the config file for awq",
], "init")
S("wl-sglang-unsupported-arch", C, ["sglang"], "SGLang model registry wording (recalled)", [
    "TB",
    "ValueError: Unsupported architectures: «arch». Supported list: ['BaichuanForCausalLM', 'ChatGLMModel', 'CohereForCausalLM', 'DbrxForCausalLM', 'DeepseekForCausalLM', 'DeepseekV2ForCausalLM', 'GemmaForCausalLM', 'Gemma2ForCausalLM', 'LlamaForCausalLM', 'MistralForCausalLM', 'MixtralForCausalLM', 'Qwen2ForCausalLM']",
], "init")
S("wl-unpickling", C, ["pytorch", "vllm"], "torch.load weights_only failure wording (recalled)", [
    "TB",
    "_pickle.UnpicklingError: Weights only load failed. This file can still be loaded, to do so you have two options, do those steps only if you trust the source of the checkpoint. ",
    "\t(1) In PyTorch 2.6, we changed the default value of the `weights_only` argument in `torch.load` from `False` to `True`. Re-running `torch.load` with `weights_only` set to `False` will likely succeed, but it can result in arbitrary code execution. Do it only if you got the file from a trusted source.",
], "load")
S("wl-paraphrase-corrupt", C, ALL_SERVERS, "synthetic: a wrapper's paraphrase of a corrupt checkpoint", [
    "@E checkpoint shard model-0000«shard_i»-of-0000«shard_n».safetensors is truncated or corrupt (expected «bytes» bytes, found «bytes»); delete the cached snapshot and download it again",
], "load")

# =============================================================== nccl-failure
C = "nccl-failure"
NCCL_PY = ["vllm", "sglang", "pytorch", "tgi"]
S("nccl-shm-segment", C, NCCL_PY, "PyTorch DistBackendError with NCCL's /dev/shm segment failure (recalled from vLLM/PyTorch issues)", [
    "TB",
    "torch.distributed.DistBackendError: NCCL error in: ../torch/csrc/distributed/c10d/ProcessGroupNCCL.cpp:«line», unhandled system error (run with NCCL_DEBUG=INFO for details), NCCL version «nccl»",
    "ncclSystemError: System call (e.g. socket, malloc) or external library call failed or device error. ",
    "Last error:",
    "Error while creating shared memory segment /dev/shm/nccl-«rand6» (size «n2»)",
])
S("nccl-shm-warn", C, NCCL_PY, "NCCL WARN lines for a too small /dev/shm (recalled from NCCL issues)", [
    "«host»:«pid»:«pid» [1] include/alloc.h:«line» NCCL WARN Error: failed to extend /dev/shm/nccl-«rand6» to «n2» bytes",
    "«host»:«pid»:«pid» [1] include/alloc.h:«line» NCCL WARN Error while creating shared memory segment /dev/shm/nccl-«rand6» (size «n2»)",
    "«host»:«pid»:«pid» [1] NCCL INFO transport/shm.cc:«line» -> 2",
    "«host»:«pid»:«pid» [1] NCCL INFO init.cc:«line» -> 2",
])
S("nccl-watchdog-timeout", C, NCCL_PY, "PyTorch ProcessGroupNCCL watchdog timeout wording (recalled)", [
    "[rank«rank1»]:[E«mmdd» «hhmmss».«pid»000 ProcessGroupNCCL.cpp:«line»] [Rank «rank1»] Watchdog caught collective operation timeout: WorkNCCL(SeqNum=«seqnum», OpType=ALLREDUCE, NumelIn=«numel», NumelOut=«numel», Timeout(ms)=«timeout_ms») ran for «timeout_ms» milliseconds before timing out.",
    "[rank«rank1»]:[E«mmdd» «hhmmss».«pid»000 ProcessGroupNCCL.cpp:«line»] [PG ID 0 PG GUID 0(default_pg) Rank «rank1»] Exception (either an error or timeout) detected by watchdog at work: «seqnum», last enqueued NCCL work: «seqnum», last completed NCCL work: «seqnum».",
    "[rank«rank1»]:[E«mmdd» «hhmmss».«pid»000 ProcessGroupNCCL.cpp:«line»] [PG ID 0 PG GUID 0(default_pg) Rank «rank1»] Timeout at NCCL work: «seqnum», last enqueued NCCL work: «seqnum», last completed NCCL work: «seqnum».",
    "[rank«rank1»]:[E«mmdd» «hhmmss».«pid»000 ProcessGroupNCCL.cpp:«line»] [PG ID 0 PG GUID 0(default_pg) Rank «rank1»] Some NCCL operations have failed or timed out. Due to the asynchronous nature of CUDA kernels, subsequent GPU operations might run on corrupted/incomplete data.",
    "[rank«rank1»]:[E«mmdd» «hhmmss».«pid»000 ProcessGroupNCCL.cpp:«line»] [PG ID 0 PG GUID 0(default_pg) Rank «rank1»] To avoid data inconsistency, we are taking the entire process down.",
    "terminate called after throwing an instance of 'c10::DistBackendError'",
    "  what():  [PG ID 0 PG GUID 0(default_pg) Rank «rank1»] Process group watchdog thread terminated with exception: [Rank «rank1»] Watchdog caught collective operation timeout: WorkNCCL(SeqNum=«seqnum», OpType=ALLREDUCE, NumelIn=«numel», NumelOut=«numel», Timeout(ms)=«timeout_ms») ran for «timeout_ms» milliseconds before timing out.",
    "Fatal Python error: Aborted",
])
S("nccl-watchdog-short", C, NCCL_PY, "PyTorch watchdog timeout, older single-line form (recalled)", [
    "[E ProcessGroupNCCL.cpp:«line»] [Rank «rank»] Watchdog caught collective operation timeout: WorkNCCL(SeqNum=«seqnum», OpType=BROADCAST, NumelIn=«numel», NumelOut=«numel», Timeout(ms)=«timeout_ms») ran for «timeout_ms» milliseconds before timing out.",
    "[E ProcessGroupNCCL.cpp:«line»] Some NCCL operations have failed or timed out. Due to the asynchronous nature of CUDA kernels, subsequent GPU operations might run on corrupted/incomplete data. To avoid this inconsistency, we are taking the entire process down.",
])
S("nccl-unhandled-cuda-p2p", C, NCCL_PY, "NCCL unhandled cuda error with a peer access failure (recalled from vLLM issues)", [
    "TB",
    "RuntimeError: NCCL error: unhandled cuda error (run with NCCL_DEBUG=INFO for details), NCCL version «nccl»",
    "ncclUnhandledCudaError: Call to CUDA function failed.",
    "Last error:",
    "Cuda failure 'peer access is not supported between these two devices'",
])
S("nccl-operation-not-supported", C, NCCL_PY, "NCCL unhandled cuda error 'operation not supported' on virtualised GPUs (recalled)", [
    "«host»:«pid»:«pid» [0] transport/p2p.cc:«line» NCCL WARN Cuda failure 'operation not supported'",
    "TB",
    "torch.distributed.DistBackendError: NCCL error in: ../torch/csrc/distributed/c10d/NCCLUtils.hpp:«line», unhandled cuda error (run with NCCL_DEBUG=INFO for details), NCCL version «nccl»",
    "ncclUnhandledCudaError: Call to CUDA function failed.",
    "Last error:",
    "Cuda failure 'operation not supported'",
])
S("nccl-internal-recv", C, NCCL_PY, "ncclInternalError from a socket receive failure (recalled)", [
    "TB",
    "torch.distributed.DistBackendError: NCCL error in: ../torch/csrc/distributed/c10d/ProcessGroupNCCL.cpp:«line», internal error - please report this issue to the NCCL developers, NCCL version «nccl»",
    "ncclInternalError: Internal check failed.",
    "Last error:",
    "Net : Call to recv from «ip»<«mport»> failed : Connection reset by peer",
])
S("nccl-remote-error", C, NCCL_PY, "ncclRemoteError wording (recalled)", [
    "TB",
    "torch.distributed.DistBackendError: NCCL error in: ../torch/csrc/distributed/c10d/ProcessGroupNCCL.cpp:«line», remote process exited or there was a network error, NCCL version «nccl»",
    "ncclRemoteError: A call failed possibly due to a network error or a remote process exiting prematurely.",
    "Last error:",
    "NET/IB : Got completion from peer «ip»<«mport»> with status=12 opcode=0 len=0 vendor err 129 (Recv) localGid ::ffff:«ip» remoteGidsfe80::«hex8»",
])
S("nccl-socket-connect", C, NCCL_PY, "NCCL WARN socket connect failures (recalled)", [
    "«host»:«pid»:«pid» [0] misc/socket.cc:«line» NCCL WARN socketStartConnect: Connect to «ip»<«mport»> failed : Software caused connection abort",
    "«host»:«pid»:«pid» [0] NCCL INFO misc/socket.cc:«line» -> 2",
    "«host»:«pid»:«pid» [0] NCCL INFO bootstrap.cc:«line» -> 2",
    "«host»:«pid»:«pid» [0] NCCL INFO init.cc:«line» -> 2",
])
S("nccl-no-socket-iface", C, NCCL_PY, "NCCL bootstrap without a usable interface (recalled)", [
    "«host»:«pid»:«pid» [0] NCCL INFO NCCL_SOCKET_IFNAME set by environment to «iface»",
    "«host»:«pid»:«pid» [0] bootstrap.cc:«line» NCCL WARN Bootstrap : no socket interface found",
    "«host»:«pid»:«pid» [0] NCCL INFO init.cc:«line» -> 3",
    "TB",
    "torch.distributed.DistBackendError: NCCL error in: ../torch/csrc/distributed/c10d/ProcessGroupNCCL.cpp:«line», invalid usage (run with NCCL_DEBUG=WARN for details), NCCL version «nccl»",
    "ncclInvalidUsage: This usually reflects invalid usage of NCCL library.",
])
S("nccl-ib-device", C, NCCL_PY, "NCCL InfiniBand device failures (recalled)", [
    "«host»:«pid»:«pid» [0] transport/net_ib.cc:«line» NCCL WARN NET/IB : Unable to open device mlx5_«small»",
    "«host»:«pid»:«pid» [0] transport/net_ib.cc:«line» NCCL WARN Call to ibv_modify_qp failed with error No such device",
    "«host»:«pid»:«pid» [0] NCCL INFO transport/net_ib.cc:«line» -> 2",
])
S("nccl-pynccl-vllm", C, ["vllm"], "vLLM pynccl wrapper NCCL_CHECK failure (recalled)", [
    "TB",
    '  File "«site»/vllm/distributed/device_communicators/pynccl_wrapper.py", line «line», in NCCL_CHECK',
    "    raise RuntimeError(f\"NCCL error: {error_str}\")",
    "RuntimeError: NCCL error: unhandled system error (run with NCCL_DEBUG=INFO for details)",
])
S("nccl-dataloader-shm", C, ["pytorch"], "PyTorch bus error message blaming shared memory (recalled)", [
    "ERROR: Unexpected bus error encountered in worker. This might be caused by insufficient shared memory (shm).",
    "TB",
    "RuntimeError: DataLoader worker (pid «pid») is killed by signal: Bus error. It is possible that dataloader's workers are out of shared memory. Please try to raise your shared memory limit.",
], "serve")
S("nccl-bus-error-shm", C, ["vllm", "sglang", "tgi"], "bus error after NCCL set-up with a 64MB /dev/shm (synthetic combination of real lines)", [
    "NOTE: The SHMEM allocation limit is set to the default of 64MB.  This may be",
    "   insufficient for the inference server.",
    "«host»:«pid»:«pid» [0] NCCL INFO Channel 00/0 : 0[0] -> 1[1] via P2P/CUMEM/read",
    "Bus error (core dumped)",
])
S("nccl-store-timeout", C, NCCL_PY, "c10d TCPStore client timeout (recalled)", [
    "TB",
    "torch.distributed.DistNetworkError: The client socket has timed out after 600s while trying to connect to («ip», 29500).",
], "init")
S("nccl-gloo-closed", C, ["vllm", "pytorch"], "gloo pair connection closed by peer (recalled)", [
    "TB",
    "RuntimeError: [../third_party/gloo/gloo/transport/tcp/pair.cc:«line»] Connection closed by peer [«ip»]:«mport»",
])
S("nccl-comm-aborted", C, NCCL_PY, "PyTorch NCCL communicator aborted wording (recalled)", [
    "TB",
    "torch.distributed.DistBackendError: NCCL communicator was aborted on rank «rank1». Original reason for failure was: [Rank «rank1»] Watchdog caught collective operation timeout: WorkNCCL(SeqNum=«seqnum», OpType=ALLGATHER, NumelIn=«numel», NumelOut=«numel», Timeout(ms)=«timeout_ms») ran for «timeout_ms» milliseconds before timing out.",
])
S("nccl-heartbeat", C, NCCL_PY, "PyTorch ProcessGroupNCCL heartbeat monitor wording (recalled)", [
    "[rank«rank»]:[E«mmdd» «hhmmss».«pid»000 ProcessGroupNCCL.cpp:«line»] [PG ID 0 PG GUID 0(default_pg) Rank «rank»] Heartbeat monitor timed out! Process will be terminated after dumping debug info. workMetaList_.size()=«small»",
    "[rank«rank»]:[F«mmdd» «hhmmss».«pid»000 ProcessGroupNCCL.cpp:«line»] [PG ID 0 PG GUID 0(default_pg) Rank «rank»] [PG ID 0 PG GUID 0(default_pg) Rank «rank»] Terminating the process after attempting to dump debug info, due to collective timeout or exception.",
])
S("nccl-ray-wrapped", C, ["vllm"], "NCCL error surfacing through a Ray worker (recalled from vLLM issues)", [
    "ray.exceptions.RayTaskError(DistBackendError): ray::RayWorkerWrapper.execute_method() (pid=«pid», ip=«ip», actor_id=«hex40», repr=<vllm.executor.ray_utils.RayWorkerWrapper object at «addr»>)",
    "FR",
    "torch.distributed.DistBackendError: NCCL error in: ../torch/csrc/distributed/c10d/ProcessGroupNCCL.cpp:«line», unhandled system error (run with NCCL_DEBUG=INFO for details), NCCL version «nccl»",
    "ncclSystemError: System call (e.g. socket, malloc) or external library call failed or device error. ",
])
S("nccl-tgi-shard1", C, ["tgi"], "TGI second shard failing with an NCCL error (recalled from TGI issues)", [
    "@E Shard complete standard error output:",
    "TB",
    "RuntimeError: NCCL error in: ../torch/csrc/distributed/c10d/NCCLUtils.hpp:«line», unhandled system error (run with NCCL_DEBUG=INFO for details), NCCL version «nccl»",
    "ncclSystemError: System call (e.g. socket, malloc) or external library call failed or device error.",
    "Last error:",
    "socketStartConnect: Connect to «ip»<«mport»> failed : Connection refused",
    "@E Shard 1 failed to start",
], "load")
S("nccl-peer-mapping", C, NCCL_PY, "NCCL WARN Cuda failure for exhausted peer mappings (recalled)", [
    "«host»:«pid»:«pid» [3] transport/p2p.cc:«line» NCCL WARN Cuda failure 'peer mapping resources exhausted'",
    "«host»:«pid»:«pid» [3] NCCL INFO transport/p2p.cc:«line» -> 1",
    "«host»:«pid»:«pid» [3] NCCL INFO init.cc:«line» -> 1",
])
S("nccl-custom-allreduce-ipc", C, ["vllm"], "vLLM custom all-reduce IPC failure pointing at P2P (recalled from vLLM issues)", [
    "TB",
    '  File "«site»/vllm/distributed/device_communicators/custom_all_reduce.py", line «line», in __init__',
    "    handles, offsets = self._get_ipc_meta(self.meta)",
    "RuntimeError: CUDA error: peer access is not supported between these two devices",
])
S("nccl-paraphrase-collective", C, ALL_SERVERS, "synthetic: a launcher's paraphrase of a collective failure", [
    "@E tensor-parallel group failed: all_reduce on rank «rank1» did not complete (NCCL transport error: connection reset by peer)",
])

# =============================================================== gpu-hardware-fault
C = "gpu-hardware-fault"
S("hw-xid-79", C, ALL_SERVERS, "NVIDIA kernel driver Xid 79 wording (NVIDIA Xid catalogue, recalled)", [
    "[«kts»] NVRM: GPU at PCI:«pcifull»: GPU-«uuid»",
    "[«kts»] NVRM: GPU Board Serial Number: 1«n2»«n2»",
    "[«kts»] NVRM: Xid (PCI:«pcifull»): 79, pid=«xid_pid», name=python3, GPU has fallen off the bus.",
    "[«kts»] NVRM: GPU «pcifull»: GPU has fallen off the bus.",
    "[«kts»] NVRM: A GPU crash dump has been created. If possible, please run",
    "NVRM: nvidia-bug-report.sh as root to collect this data before",
    "NVRM: the NVIDIA kernel module is unloaded.",
], "serve")
S("hw-xid-79-short", C, ALL_SERVERS, "Xid 79 line without dmesg timestamps, as pasted in issues", [
    "NVRM: Xid (PCI:«pci»): 79, pid=«xid_pid», GPU has fallen off the bus.",
], "serve")
S("hw-xid-48-dbe", C, ALL_SERVERS, "Xid 48 double-bit ECC wording (recalled)", [
    "[«kts»] NVRM: Xid (PCI:«pcifull»): 48, pid=«xid_pid», name=python3, DBE (Double Bit Error) ECC Error",
    "[«kts»] NVRM: Xid (PCI:«pcifull»): 63, pid=«xid_pid», name=python3, Row Remapper: New row marked for remapping, reset gpu to activate.",
], "serve")
S("hw-xid-94-95", C, ALL_SERVERS, "Xid 94/95 contained/uncontained ECC wording (recalled)", [
    "[«kts»] NVRM: Xid (PCI:«pcifull»): 95, pid=«xid_pid», name=python3, Uncontained: FBHUB. RST: Yes, D-RST: No",
    "[«kts»] NVRM: Xid (PCI:«pcifull»): 94, pid=«xid_pid», name=python3, Contained: SM (0x1). RST: No, D-RST: No",
], "serve")
S("hw-xid-119-gsp", C, ALL_SERVERS, "Xid 119 GSP RPC timeout wording (recalled)", [
    "[«kts»] NVRM: Xid (PCI:«pcifull»): 119, pid=«xid_pid», name=nvidia-smi, Timeout after 6s of waiting for RPC response from GPU0 GSP! Expected function 76 (GSP_RM_CONTROL) (0x20800a4c 0x4).",
    "[«kts»] NVRM: GPU0 GSP RPC buffer contains function 76 (GSP_RM_CONTROL) and data 0x0000000020800a4c 0x0000000000000004.",
], "serve")
S("hw-xid-74-nvlink", C, ALL_SERVERS, "Xid 74 NVLink fatal error wording (recalled)", [
    "[«kts»] NVRM: Xid (PCI:«pcifull»): 74, pid=«xid_pid», name=python3, NVLink: fatal error detected on link «small»(0x0, 0x0, 0x10000, 0x0, 0x0, 0x0, 0x0)",
], "serve")
S("hw-ecc-torch", C, PY_SERVERS, "CUDA error string for uncorrectable ECC raised by PyTorch (recalled)", [
    "TB",
    "RuntimeError: CUDA error: uncorrectable ECC error encountered",
] + CUDA_ASYNC, "serve")
S("hw-ecc-cuda-enum", C, ["triton", "pytorch", "vllm"], "cudaErrorECCUncorrectable as printed by C++ code (recalled)", [
    "CUDA runtime error: cudaErrorECCUncorrectable: uncorrectable ECC error encountered (214) at /workspace/src/kernels.cu:«line»",
    "terminate called after throwing an instance of 'std::runtime_error'",
    "Aborted (core dumped)",
], "serve")
S("hw-nvlink-uncorrectable", C, PY_SERVERS, "CUDA error string cudaErrorNvlinkUncorrectable (recalled)", [
    "TB",
    "RuntimeError: CUDA error: an uncorrectable NVLink error was detected during the execution",
] + CUDA_ASYNC[:2], "serve")
S("hw-smi-gpu-lost", C, ALL_SERVERS, "nvidia-smi wording for a lost GPU (recalled)", [
    "+ nvidia-smi",
    "Unable to determine the device handle for GPU «pcifull»: GPU is lost.  Reboot the system to recover this GPU",
], "init")
S("hw-smi-unknown-handle", C, ALL_SERVERS, "nvidia-smi device handle Unknown Error after an Xid (synthetic combination)", [
    "Unable to determine the device handle for GPU«pcifull»: Unknown Error",
    "[«kts»] NVRM: Xid (PCI:«pcifull»): 79, pid=«xid_pid», GPU has fallen off the bus.",
], "init")
S("hw-rminit-failed", C, ALL_SERVERS, "NVIDIA driver RmInitAdapter failure wording (recalled)", [
    "[«kts»] NVRM: GPU «pcifull»: RmInitAdapter failed! (0x62:0x55:«small»)",
    "[«kts»] NVRM: GPU «pcifull»: rm_init_adapter failed, device minor number 0",
], "init")
S("hw-xid-then-nccl", C, ["vllm", "sglang", "pytorch"], "synthetic cascade: Xid 79 followed by the NCCL errors it causes (root cause is the hardware)", [
    "[«kts»] NVRM: Xid (PCI:«pcifull»): 79, pid=«xid_pid», name=python3, GPU has fallen off the bus.",
    "«host»:«pid»:«pid» [1] NCCL WARN Cuda failure 'unknown error'",
    "TB",
    "torch.distributed.DistBackendError: NCCL error in: ../torch/csrc/distributed/c10d/ProcessGroupNCCL.cpp:«line», unhandled cuda error (run with NCCL_DEBUG=INFO for details), NCCL version «nccl»",
], "serve")
S("hw-pcie-aer", C, ALL_SERVERS, "kernel PCIe AER fatal error lines next to an Xid (recalled)", [
    "[«kts»] pcieport 0000:«hex8»: AER: Uncorrected (Fatal) error received: 0000:«hex8»",
    "[«kts»] nvidia 0000:«hex8»: AER: PCIe Bus Error: severity=Uncorrected (Fatal), type=Transaction Layer, (Receiver ID)",
    "[«kts»] NVRM: Xid (PCI:«pcifull»): 79, pid=«xid_pid», GPU has fallen off the bus.",
], "serve")
S("hw-dcgm-event", C, ALL_SERVERS, "synthetic: a node-problem-detector style Event for an Xid", [
    "  Warning  GPUXidError  «age»  nvidia-node-problem-detector  Node gpu-node-«small»: Xid 79 (GPU has fallen off the bus) on GPU «pcifull»; GPU requires reset",
], "serve")
S("hw-row-remap-failure", C, ALL_SERVERS, "Xid 64 row-remapping failure wording (recalled)", [
    "[«kts»] NVRM: Xid (PCI:«pcifull»): 64, pid=«xid_pid», name=python3, Row Remapper Error: Failed to remap row, pending GPU reset",
    "Remapped Rows Failure Occurred: Yes",
], "serve")
S("hw-smi-ecc-volatile", C, ALL_SERVERS, "synthetic: an nvidia-smi -q excerpt showing uncorrectable ECC counts with a CUDA ECC error", [
    "        Volatile",
    "            SRAM Correctable              : 0",
    "            SRAM Uncorrectable            : «small»",
    "            DRAM Uncorrectable            : «small»",
    "RuntimeError: CUDA error: uncorrectable ECC error encountered",
], "serve")
S("hw-paraphrase", C, ALL_SERVERS, "synthetic: an operator's paraphrase of a GPU that dropped off the PCIe bus", [
    "@E GPU «pcifull» stopped responding (fell off the PCIe bus); node needs a reboot before the GPU can be used again",
], "serve")

# =============================================================== no-gpu-visible
C = "no-gpu-visible"
S("nogpu-no-cuda-gpus", C, PY_SERVERS, "PyTorch 'No CUDA GPUs are available' (recalled)", [
    "TB",
    '  File "«site»/torch/cuda/__init__.py", line «line», in _lazy_init',
    "    torch._C._cuda_init()",
    "RuntimeError: No CUDA GPUs are available",
], "init")
S("nogpu-no-driver", C, PY_SERVERS, "PyTorch 'Found no NVIDIA driver on your system' (recalled)", [
    "TB",
    "RuntimeError: Found no NVIDIA driver on your system. Please check that you have an NVIDIA GPU and installed a driver from http://www.nvidia.com/Download/index.aspx",
], "init")
S("nogpu-vllm-infer-device", C, ["vllm"], "vLLM platform detection failure (recalled from vLLM issues)", [
    "@I No platform detected, vLLM is running on UnspecifiedPlatform",
    "@W Failed to import from vllm._C with ImportError('libcuda.so.1: cannot open shared object file: No such file or directory')",
    "TB",
    "RuntimeError: Failed to infer device type",
], "init")
S("nogpu-vllm-device-empty", C, ["vllm"], "vLLM 0.7/0.8 error when no device is detected (recalled from vLLM issues)", [
    "@I No platform detected, vLLM is running on UnspecifiedPlatform",
    "TB",
    "RuntimeError: Device string must not be empty",
], "init")
S("nogpu-ggml-no-device", C, ["llama.cpp", "ollama"], "llama.cpp CUDA init without devices (recalled)", [
    "ggml_cuda_init: failed to initialize CUDA: no CUDA-capable device is detected",
    "warning: no usable GPU found, --gpu-layers option will be ignored",
    "warning: one possible reason is that llama.cpp was compiled without GPU support",
], "init")
S("nogpu-ollama-no-compatible", C, ["ollama"], "Ollama GPU discovery finding nothing (recalled)", [
    'time=«iso» level=INFO source=gpu.go:«line» msg="no compatible GPUs were discovered"',
    'time=«iso» level=INFO source=types.go:«line» msg="inference compute" id=0 library=cpu variant=avx2 compute="" driver=0.0 name="" total="«gib3» GiB" available="«gib3» GiB"',
], "init")
S("nogpu-ollama-no-nvidia", C, ["ollama"], "Ollama NVIDIA library probe wording (approximate ollama wording)", [
    'time=«iso» level=INFO source=gpu.go:«line» msg="no nvidia devices detected by library /usr/lib/x86_64-linux-gnu/libcuda.so.«driver»"',
    'time=«iso» level=INFO source=gpu.go:«line» msg="no compatible GPUs were discovered"',
], "init")
S("nogpu-torch-no-device", C, PY_SERVERS, "CUDA error 'no CUDA-capable device is detected' (recalled)", [
    "TB",
    "RuntimeError: CUDA error: no CUDA-capable device is detected",
] + CUDA_ASYNC, "init")
S("nogpu-triton-gpu-id", C, ["triton"], "Triton instance group error when no GPU is visible (recalled from Triton issues)", [
    "@W Unable to allocate pinned system memory, pinned memory pool will not be available: no CUDA-capable device is detected",
    "@I CUDA memory pool disabled",
    "@E failed to load 'llm' version 1: Invalid argument: instance group llm_0 of model llm specifies invalid or unsupported gpu id 0. GPUs with at least the minimum required CUDA compute compatibility of 6.000000 are: ",
], "init")
S("nogpu-ngc-driver-not-detected", C, ["triton", "pytorch", "vllm", "tgi"], "NGC container banner when the driver is not detected (recalled)", [
    "WARNING: The NVIDIA Driver was not detected.  GPU functionality will not be available.",
    "   Use the NVIDIA Container Toolkit to start this container with GPU support; see",
    "   https://docs.nvidia.com/datacenter/cloud-native/ .",
], "init")
S("nogpu-libcuda-missing", C, PY_SERVERS, "ImportError for libcuda.so.1 when the driver is not mounted (recalled)", [
    "TB",
    "ImportError: libcuda.so.1: cannot open shared object file: No such file or directory",
], "init")
S("nogpu-smi-no-driver", C, ALL_SERVERS, "nvidia-smi wording without a driver (recalled)", [
    "+ nvidia-smi",
    "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. Make sure that the latest NVIDIA driver is installed and running.",
], "init")
S("nogpu-cli-driver-not-loaded", C, ALL_SERVERS, "nvidia-container-cli initialization error, driver not loaded (recalled)", [
    "Error: failed to create containerd task: failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: error during container init: error running hook #0: error running hook: exit status 1, stdout: , stderr: Auto-detected mode as 'legacy'",
    "nvidia-container-cli: initialization error: nvml error: driver not loaded: unknown",
], "init")
S("nogpu-cli-unknown-device", C, ALL_SERVERS, "nvidia-container-cli unknown device error (recalled)", [
    "  Warning  Failed     «age» (x«count» over «age»)  kubelet  Error: failed to create containerd task: failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: error during container init: error running hook #0: error running hook: exit status 1, stdout: , stderr: nvidia-container-cli: device error: GPU-«uuid»: unknown device: unknown",
], "init")
S("nogpu-cuda-unknown-error-zero", C, PY_SERVERS, "PyTorch warning that sets the available devices to zero (recalled)", [
    "«site»/torch/cuda/__init__.py:«line»: UserWarning: CUDA initialization: CUDA unknown error - this may be due to an incorrectly set up environment, e.g. changing env variable CUDA_VISIBLE_DEVICES after program start. Setting the available devices to be zero. (Triggered internally at ../c10/cuda/CUDAFunctions.cpp:108.)",
    "  return torch._C._cuda_getDeviceCount() > 0",
    "TB",
    "RuntimeError: No CUDA GPUs are available",
], "init")
S("nogpu-deserialize-cpu", C, ["pytorch", "triton"], "torch.load on a machine without CUDA (recalled)", [
    "TB",
    "RuntimeError: Attempting to deserialize object on a CUDA device but torch.cuda.is_available() is False. If you are running on a CPU-only machine, please use torch.load with map_location=torch.device('cpu') to map your storages to the CPU.",
], "load")
S("nogpu-trtllm-no-device", C, ["triton"], "TensorRT-LLM CUDA runtime error without devices (synthetic paraphrase)", [
    "[TensorRT-LLM][ERROR] CUDA runtime error in ::cudaGetDeviceCount(&count): no CUDA-capable device is detected (/workspace/tensorrt_llm/cpp/tensorrt_llm/common/cudaUtils.h:«line»)",
], "init")
S("nogpu-device-count-zero", C, PY_SERVERS, "synthetic: an app's own check of torch.cuda.device_count()", [
    "@I torch.cuda.is_available()=False, torch.cuda.device_count()=0, CUDA_VISIBLE_DEVICES=<unset>, NVIDIA_VISIBLE_DEVICES=void",
    "@E no GPU visible to the container; refusing to start on CPU",
], "init")
S("nogpu-cudaerrornodevice", C, ["pytorch", "vllm"], "cudaErrorNoDevice as raised by CuPy (recalled)", [
    "TB",
    "cupy_backends.cuda.api.runtime.CUDARuntimeError: cudaErrorNoDevice: no CUDA-capable device is detected",
], "init")
S("nogpu-tgi-no-gpus", C, ["tgi"], "TGI shard failing with no GPUs (recalled from TGI issues)", [
    "@E Shard complete standard error output:",
    "TB",
    "RuntimeError: No CUDA GPUs are available",
    "@E Shard 0 failed to start",
], "init")

# =============================================================== config-error
C = "config-error"
S("cfg-argparse-unrecognized", C, ["vllm", "sglang", "pytorch"], "argparse 'unrecognized arguments' (Python wording)", [
    "usage: «prog» [-h] [--host HOST] [--port PORT] [--model MODEL] [--tensor-parallel-size TENSOR_PARALLEL_SIZE] ...",
    "«prog»: error: unrecognized arguments: «badarg»",
], "init")
S("cfg-argparse-invalid-choice", C, ["vllm", "sglang", "pytorch"], "argparse invalid choice (Python wording)", [
    "usage: «prog» [-h] [--dtype {auto,half,float16,bfloat16,float,float32}] ...",
    "«prog»: error: argument --dtype: invalid choice: 'bf16' (choose from 'auto', 'half', 'float16', 'bfloat16', 'float', 'float32')",
], "init")
S("cfg-argparse-invalid-value", C, ["vllm", "sglang", "pytorch"], "argparse invalid int/float value (Python wording)", [
    "«prog»: error: argument --gpu-memory-utilization: invalid float value: '90%'",
], "init")
S("cfg-argparse-invalid-int", C, ["vllm", "sglang"], "argparse invalid int value (Python wording)", [
    "«prog»: error: argument --tensor-parallel-size/-tp: invalid int value: 'auto'",
], "init")
S("cfg-heads-divisible", C, ["vllm"], "vLLM ModelConfig.verify_with_parallel_config wording (recalled)", [
    "TB",
    "ValueError: Total number of attention heads («heads») must be divisible by tensor parallel size («tp»).",
], "init")
S("cfg-bf16-old-gpu", C, ["vllm", "sglang", "tgi"], "vLLM _check_if_gpu_supports_dtype wording (recalled)", [
    "TB",
    "ValueError: Bfloat16 is only supported on GPUs with compute capability of at least 8.0. Your Tesla T4 GPU has compute capability 7.5. You can use float16 instead by explicitly setting the `dtype` flag in CLI, for example: --dtype=half.",
], "init")
S("cfg-addr-in-use-uvicorn", C, ["vllm", "sglang", "pytorch"], "uvicorn bind failure wording (recalled)", [
    "ERROR:    [Errno 98] error while attempting to bind on address ('0.0.0.0', «port»): address already in use",
], "serve")
S("cfg-addr-in-use-oserror", C, ["vllm", "sglang", "pytorch", "triton"], "OSError EADDRINUSE (Python wording)", [
    "TB",
    "OSError: [Errno 98] Address already in use",
], "init")
S("cfg-maxlen-derived", C, ["vllm"], "vLLM derived max_model_len check wording (recalled)", [
    "TB",
    "ValueError: User-specified max_model_len («n») is greater than the derived max_model_len (max_position_embeddings=«n» or model_max_length=None in model's config.json). This may lead to incorrect model outputs or CUDA errors. To allow overriding this maximum, set the env var VLLM_ALLOW_LONG_MAX_MODEL_LEN=1",
], "init")
S("cfg-quant-mismatch", C, ["vllm"], "vLLM quantization method mismatch wording (recalled)", [
    "TB",
    "ValueError: Quantization method specified in the model config (awq) does not match the quantization method specified in the `quantization` argument (gptq).",
], "init")
S("cfg-fp8-capability", C, ["vllm"], "vLLM quantization capability check wording (recalled)", [
    "TB",
    "ValueError: The quantization method fp8 is not supported for the current GPU. Minimum capability: 89. Current capability: 80.",
], "init")
S("cfg-batched-tokens", C, ["vllm"], "vLLM SchedulerConfig check wording (recalled)", [
    "TB",
    "ValueError: max_num_batched_tokens («n2») is smaller than max_model_len («n»). This effectively limits the maximum sequence length to max_num_batched_tokens and makes vLLM reject longer sequences. Please increase max_num_batched_tokens or decrease max_model_len.",
], "init")
S("cfg-world-size-gpus", C, ["vllm"], "vLLM/pydantic ParallelConfig validation when TP exceeds the GPUs (approximate wording)", [
    "TB",
    "pydantic_core._pydantic_core.ValidationError: 1 validation error for ParallelConfig",
    "  Value error, World size («tp») is larger than the number of available GPUs (1) in this node. If this is intentional and you are using: - ray, set '--distributed-executor-backend ray'. - multiprocessing, set '--nnodes' appropriately. [type=value_error, input_value=ArgsKwargs((), {'tensor_parallel_size': «tp», ...}), input_type=ArgsKwargs]",
], "init")
S("cfg-tgi-unexpected-arg", C, ["tgi"], "clap error for an unknown TGI launcher argument (recalled)", [
    "error: unexpected argument '--max-model-len' found",
    "",
    "  tip: a similar argument exists: '--max-input-length'",
    "",
    "Usage: text-generation-launcher <--model-id <MODEL_ID>|--revision <REVISION>|--validation-workers <VALIDATION_WORKERS>|--sharded <SHARDED>|--num-shard <NUM_SHARD>|--quantize <QUANTIZE>>",
    "",
    "For more information, try '--help'.",
], "init")
S("cfg-tgi-invalid-value", C, ["tgi"], "clap invalid value error (recalled)", [
    "error: invalid value '«badval»' for '--max-input-tokens <MAX_INPUT_TOKENS>': invalid digit found in string",
    "",
    "For more information, try '--help'.",
], "init")
S("cfg-tgi-arg-validation", C, ["tgi"], "TGI launcher ArgumentValidation wording (recalled)", [
    "Error: ArgumentValidation(\"`max_input_tokens` must be < `max_total_tokens`\")",
], "init")
S("cfg-tgi-prefill-validation", C, ["tgi"], "TGI launcher ArgumentValidation for prefill tokens (recalled)", [
    "Error: ArgumentValidation(\"`max_batch_prefill_tokens` must be >= `max_input_tokens`. Given: «n2» and «n»\")",
], "init")
S("cfg-tgi-sharded-automodel", C, ["tgi"], "TGI NotImplementedError for sharding an AutoModel (recalled)", [
    "TB",
    "NotImplementedError: sharded is not supported for AutoModel",
], "load")
S("cfg-triton-pbtxt", C, ["triton"], "Triton config.pbtxt parse failure (approximate Triton wording)", [
    "@E Poll failed for model directory 'llm': failed to read text proto from /models/llm/config.pbtxt",
    "@E failed to load 'llm': Invalid argument: model 'llm', tensor 'input_ids': the model expects 2 dimensions (shape [-1,-1]) but the model configuration specifies 3 dimensions (an initial batch dimension because max_batch_size > 0 followed by the explicit tensor shape, making complete shape [-1,-1,-1])",
], "init")
S("cfg-triton-platform", C, ["triton"], "Triton unexpected platform wording (recalled)", [
    "@E failed to load 'llm' version 1: Invalid argument: unexpected platform type 'onnx' for llm",
], "init")
S("cfg-triton-unrecognized-option", C, ["triton"], "tritonserver unrecognized option (recalled)", [
    "tritonserver: unrecognized option '--model-store-path=/models'",
    "Usage: tritonserver [options]",
], "init")
S("cfg-ollama-unknown-flag", C, ["ollama"], "ollama CLI unknown flag (cobra wording)", [
    "Error: unknown flag: --gpus",
], "init")
S("cfg-ollama-bind", C, ["ollama"], "ollama listen error (Go wording)", [
    "Error: listen tcp 0.0.0.0:11434: bind: address already in use",
], "init")
S("cfg-llamacpp-invalid-arg", C, ["llama.cpp"], "llama.cpp argument parser error (recalled)", [
    "error: invalid argument: --n-gpu-layer",
    "usage: /app/llama-server [options]",
], "init")
S("cfg-llamacpp-bind", C, ["llama.cpp"], "llama.cpp server bind failure (recalled)", [
    "main: couldn't bind HTTP server socket, hostname: 0.0.0.0, port: «port»",
], "init")
S("cfg-flash-attn-ampere", C, ["vllm", "pytorch", "tgi", "sglang"], "flash-attention capability check wording (recalled)", [
    "TB",
    "RuntimeError: FlashAttention only supports Ampere GPUs or newer.",
], "profile")
S("cfg-env-int", C, ["vllm", "pytorch", "sglang"], "int() parse error of a bad environment value (Python wording)", [
    "TB",
    '  File "/app/entrypoint.py", line «line», in <module>',
    '    max_len = int(os.environ["MAX_MODEL_LEN"])',
    "ValueError: invalid literal for int() with base 10: '8k'",
], "init")
S("cfg-tool-parser", C, ["vllm"], "vLLM tool parser registry KeyError (recalled)", [
    "TB",
    "KeyError: 'invalid tool call parser: hermess (chose from { granite,granite-20b-fc,hermes,internlm,jamba,llama3_json,mistral,pythonic })'",
], "init")
S("cfg-auto-tool-choice", C, ["vllm"], "vLLM --enable-auto-tool-choice check (recalled)", [
    "TB",
    "TypeError: Error: --enable-auto-tool-choice requires --tool-call-parser",
], "init")
S("cfg-forked-cuda", C, ["vllm", "pytorch"], "PyTorch re-initialisation in a forked subprocess (recalled)", [
    "TB",
    "RuntimeError: Cannot re-initialize CUDA in forked subprocess. To use CUDA with multiprocessing, you must use the 'spawn' start method",
], "load")
S("cfg-yaml-config", C, ["vllm", "pytorch", "sglang"], "PyYAML scanner error for a --config file (PyYAML wording)", [
    "TB",
    "yaml.scanner.ScannerError: mapping values are not allowed here",
    '  in "/etc/llm/config.yaml", line «small», column «small»',
], "init")
S("cfg-runasnonroot", C, ALL_SERVERS, "kubelet CreateContainerConfigError for runAsNonRoot (Kubernetes wording)", [
    "  Warning  Failed     «age» (x«count» over «age»)  kubelet  Error: container has runAsNonRoot and image will run as root (pod: \"«host»_default(«uuid»)\", container: «container»)",
], "init")
S("cfg-tgi-addr-in-use", C, ["tgi"], "TGI router bind failure (approximate wording)", [
    "@E Error: Os { code: 98, kind: AddrInUse, message: \"Address already in use\" }",
    "Error: WebserverFailed",
], "serve")
S("cfg-sglang-tp-heads", C, ["sglang"], "SGLang assertion on TP size vs heads (approximate wording)", [
    "TB",
    "AssertionError: The number of attention heads («heads») must be divisible by tp_size («tp»)",
], "init")
S("cfg-paraphrase-flag", C, ALL_SERVERS, "synthetic: a wrapper's paraphrase of an invalid flag combination", [
    "@E invalid configuration: --max-model-len «n» conflicts with --max-num-batched-tokens «n2» (must be >=); refusing to start",
], "init")

# =============================================================== startup-probe-kill
C = "startup-probe-kill"
PROBE_EVENTS = [
    "  Warning  Unhealthy  «age» (x«count» over «age»)  kubelet  Startup probe failed: Get \"http://«ip»:«port»/health\": dial tcp «ip»:«port»: connect: connection refused",
    "  Normal   Killing    «age»                  kubelet  Container «container» failed startup probe, will be restarted",
]
LIVENESS_EVENTS = [
    "  Warning  Unhealthy  «age» (x«count» over «age»)  kubelet  Liveness probe failed: Get \"http://«ip»:«port»/health\": context deadline exceeded (Client.Timeout exceeded while awaiting headers)",
    "  Normal   Killing    «age»                  kubelet  Container «container» failed liveness probe, will be restarted",
]
S("probe-events-startup", C, ALL_SERVERS, "kubelet Events for a startup probe kill (Kubernetes wording) after a log that stops mid-load", [], "load", PROBE_EVENTS)
S("probe-events-liveness", C, ALL_SERVERS, "kubelet Events for a liveness probe kill (Kubernetes wording) after a log that stops mid-load", [], "load", LIVENESS_EVENTS)
S("probe-events-download", C, ["vllm", "tgi", "pytorch", "sglang"], "kubelet startup probe Events while weights are still downloading (Kubernetes wording)", [], "download", PROBE_EVENTS)
S("probe-events-http-503", C, ["vllm", "tgi", "sglang", "triton"], "kubelet probe failure with HTTP 503 during load (Kubernetes wording)", [], "load", [
    "  Warning  Unhealthy  «age» (x«count» over «age»)  kubelet  Startup probe failed: HTTP probe failed with statuscode: 503",
    "  Normal   Killing    «age»                  kubelet  Container «container» failed startup probe, will be restarted",
])
S("probe-events-exec", C, ALL_SERVERS, "kubelet exec probe timeout (Kubernetes wording)", [], "load", [
    "  Warning  Unhealthy  «age» (x«count» over «age»)  kubelet  Startup probe errored: rpc error: code = DeadlineExceeded desc = failed to exec in container: timeout 1s exceeded: context deadline exceeded",
    "  Normal   Killing    «age»                  kubelet  Container «container» failed startup probe, will be restarted",
])
S("probe-describe-lastState", C, ALL_SERVERS, "kubectl describe showing exit 137 with reason Error plus probe Events (Kubernetes wording)", [], "load", [
    "    Last State:     Terminated",
    "      Reason:       Error",
    "      Exit Code:    137",
    "    Restart Count:  «restarts»",
    "    Startup:        http-get http://:http/health delay=0s timeout=1s period=10s #success=1 #failure=30",
    "Events:",
    "  Type     Reason     Age                   From     Message",
    "  ----     ------     ----                  ----     -------",
] + PROBE_EVENTS)
S("probe-tgi-terminate-waiting", C, ["tgi"], "TGI launcher shutting shards down on SIGTERM while they load (recalled)", [
    "@I Waiting for shard to be ready... rank=0",
    "@I Waiting for shard to be ready... rank=0",
    "@I Waiting for shard to be ready... rank=0",
    "@I Terminating shard rank=0",
    "@I Waiting for shard to gracefully shutdown rank=0",
    "@I shard terminated rank=0",
], "load")
S("probe-triton-signal-loading", C, ["triton"], "Triton receiving SIGTERM while a model is still loading (Triton wording, combination)", [
    "Signal (15) received.",
    "@I Waiting for in-flight requests to complete.",
    "@I Timeout 30: Found 0 model versions that have in-flight inferences",
], "load")
S("probe-vllm-keyboardinterrupt", C, ["vllm"], "vLLM API server turning SIGTERM into KeyboardInterrupt('terminated') during engine start-up (recalled from vllm/entrypoints/openai/api_server.py)", [
    "TB",
    '  File "«site»/vllm/entrypoints/openai/api_server.py", line «line», in signal_handler',
    '    raise KeyboardInterrupt("terminated")',
    "KeyboardInterrupt: terminated",
], "load")
S("probe-slow-shards", C, ["vllm", "sglang", "pytorch"], "a very slow shard load that stops (progress bar wording of vLLM/transformers) followed by probe Events", [
    "Loading safetensors checkpoint shards:  «pct»% Completed | «shard_i»/«shard_n» [0«small»:«small»<1«small»:«small», «small»1.3s/it]",
], "load", PROBE_EVENTS)
S("probe-compile-capture", C, ["vllm"], "vLLM torch.compile / CUDA graph capture in progress when the log stops (vLLM wording) with probe Events", [
    "@I Compiling a graph for dynamic shape takes «secs» s",
    "Capturing CUDA graph shapes:  «pct»%|████▍     | «small»/67 [00:«small»<00:«small»,  1.23it/s]",
], "profile", PROBE_EVENTS)
S("probe-hf-download-progress", C, ["vllm", "tgi", "pytorch", "sglang"], "huggingface_hub tqdm download progress that stops, then probe Events", [
    "model-0000«shard_i»-of-0000«shard_n».safetensors:  «pct»%|███▌      | 1.«small»G/4.98G [0«small»:«small»<0«small»:«small», «small».2MB/s]",
], "download", LIVENESS_EVENTS)
S("probe-llamacpp-tensors", C, ["llama.cpp", "ollama"], "llama.cpp loading tensors with probe Events (llama.cpp wording)", [
    "llm_load_tensors: ggml ctx size =    0.27 MiB",
    "load_tensors: loading model tensors, this can take a while... (mmap = true)",
    "........................",
], "load", PROBE_EVENTS)
S("probe-sigterm-during-load", C, ["pytorch", "sglang"], "synthetic: an app's own SIGTERM handler firing during model load", [
    "@W received SIGTERM while loading the model; exiting",
], "load")
S("probe-paraphrase", C, ALL_SERVERS, "synthetic: an operator's note on a probe kill", [
    "# pod restarted by kubelet: startup probe (/health) failed 30 times while weights were still loading",
], "load")

# =============================================================== unknown
C = "unknown"
S("unk-healthy-start", C, ALL_SERVERS, "synthetic: a healthy start-up ending ready", ["READY"], "serve")
S("unk-healthy-serving", C, ALL_SERVERS, "synthetic: a healthy server handling requests", ["READY", "SERVING"], "serve")
S("unk-graceful-shutdown", C, ALL_SERVERS, "synthetic: a healthy server shut down gracefully by SIGTERM (scale-down, rollout)", ["READY", "SERVING", "SHUTDOWN"], "serve")
S("unk-healthy-describe", C, ALL_SERVERS, "synthetic: a healthy start-up plus a kubectl describe of a running pod", ["READY"], "serve", [
    "    State:          Running",
    "      Started:      «hhmmss»",
    "    Ready:          True",
    "    Restart Count:  0",
    "  Normal  Pulled     «age»  kubelet  Container image already present on machine",
    "  Normal  Started    «age»  kubelet  Started container «container»",
])
S("unk-import-module", C, PY_SERVERS, "Python ModuleNotFoundError (Python wording)", [
    "TB",
    "ModuleNotFoundError: No module named '«pymod»'",
], "init")
S("unk-import-undefined-symbol", C, ["vllm", "sglang", "pytorch"], "ImportError for an undefined symbol in a compiled extension (recalled from vLLM issues)", [
    "TB",
    "ImportError: «site»/vllm/_C.abi3.so: undefined symbol: _ZN3c104cuda9SetDeviceEi",
], "init")
S("unk-import-cannot-import", C, PY_SERVERS, "ImportError cannot import name (Python wording)", [
    "TB",
    "ImportError: cannot import name '«pyname»' from 'transformers' («site»/transformers/__init__.py)",
], "init")
S("unk-attributeerror-module", C, PY_SERVERS, "AttributeError on a module after a version skew (Python wording)", [
    "TB",
    "AttributeError: module 'torch.library' has no attribute 'register_fake'",
], "init")
S("unk-segfault-python", C, PY_SERVERS, "CPython faulthandler segfault report (Python wording)", [
    "Fatal Python error: Segmentation fault",
    "",
    "Thread 0x00007f«hex8» (most recent call first):",
    '  File "«site»/torch/_ops.py", line «line» in __call__',
    '  File "«site»/vllm/_custom_ops.py", line «line» in rms_norm',
    "",
    "Extension modules: numpy.core._multiarray_umath, torch._C, torch._C._fft, yaml._yaml, msgspec._core (total: 47)",
    "Segmentation fault (core dumped)",
], "profile")
S("unk-segfault-bare", C, ALL_SERVERS, "shell segfault report (recalled)", [
    "Segmentation fault (core dumped)",
], "load")
S("unk-segfault-absl", C, ["pytorch", "triton", "tgi"], "absl failure signal handler output (recalled)", [
    "*** SIGSEGV received at time=«pid» on cpu «small» ***",
    "PC: @     0x7f«hex8»  (unknown)  (unknown)",
    "    @     0x7f«hex8»       «small»  (unknown)",
    "[«hhmmss»] *** SIGSEGV received at time=«pid» on cpu «small» ***",
], "load")
S("unk-go-nil-panic", C, ["ollama"], "Go nil pointer panic (Go wording)", [
    "panic: runtime error: invalid memory address or nil pointer dereference",
    "[signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=0x«hex8»]",
    "",
    "goroutine 1 [running]:",
    "github.com/ollama/ollama/server.(*Server).GenerateRoutes(0x0)",
    "\tgithub.com/ollama/ollama/server/routes.go:«line» +0x«hex8»",
], "init")
S("unk-rust-panic", C, ["tgi"], "Rust panic in the router (Rust wording)", [
    "thread 'main' panicked at router/src/main.rs:«line»:«small»:",
    "called `Result::unwrap()` on an `Err` value: Os { code: 2, kind: NotFound, message: \"No such file or directory\" }",
    "note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace",
], "init")
S("unk-entry-exec-notfound", C, ALL_SERVERS, "container runtime exec failure (containerd/runc wording)", [
    "exec /usr/local/bin/entrypoint.sh: no such file or directory",
], "init")
S("unk-entry-exec-format", C, ALL_SERVERS, "exec format error for a wrong-architecture image (runc wording)", [
    "exec /usr/bin/python3: exec format error",
], "init")
S("unk-entry-sh-not-found", C, ALL_SERVERS, "shell command not found (dash wording)", [
    "/bin/sh: 1: «cmd»: not found",
], "init")
S("unk-entry-cant-open", C, PY_SERVERS, "python can't open file (CPython wording)", [
    "python3: can't open file '/app/«script»': [Errno 2] No such file or directory",
], "init")
S("unk-entry-oci-path", C, ALL_SERVERS, "OCI runtime executable-not-found in Events (runc wording)", [
    "  Warning  Failed     «age» (x«count» over «age»)  kubelet  Error: failed to create containerd task: failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: exec: \"«cmd»\": executable file not found in $PATH: unknown",
], "init")
S("unk-syntaxerror", C, PY_SERVERS, "Python SyntaxError in a user script (CPython wording)", [
    '  File "/app/«script»", line «line»',
    "    if model_name = \"llama\":",
    "       ^^^^^^^^^^^^^^^^^^^",
    "SyntaxError: invalid syntax. Maybe you meant '==' or ':=' instead of '='?",
], "init")
S("unk-indentationerror", C, PY_SERVERS, "Python IndentationError (CPython wording)", [
    '  File "/app/«script»", line «line»',
    "    return app",
    "IndentationError: unexpected indent",
], "init")
S("unk-permission-log", C, PY_SERVERS, "PermissionError on a log file (Python wording)", [
    "TB",
    "PermissionError: [Errno 13] Permission denied: '/var/log/app/server.log'",
], "init")
S("unk-permission-script", C, ALL_SERVERS, "permission denied running a script (shell wording)", [
    "/bin/bash: line 1: /app/start.sh: Permission denied",
], "init")
S("unk-permission-config", C, PY_SERVERS, "PermissionError reading a mounted config (Python wording)", [
    "TB",
    "PermissionError: [Errno 13] Permission denied: '/etc/app/settings.json'",
], "init")
S("unk-typeerror-kwarg", C, ["vllm", "pytorch", "sglang"], "TypeError from a version-skewed call in user code (Python wording)", [
    "TB",
    "TypeError: AsyncEngineArgs.__init__() got an unexpected keyword argument '«pyname»'",
], "init")
S("unk-attribute-none", C, PY_SERVERS, "AttributeError on None in an app handler (Python wording)", [
    "TB",
    "AttributeError: 'NoneType' object has no attribute 'encode'",
], "serve")
S("unk-keyerror-app", C, PY_SERVERS, "KeyError in app code (Python wording)", [
    "TB",
    "KeyError: 'choices'",
], "serve")
S("unk-illegal-memory", C, ["vllm", "sglang", "pytorch", "tgi"], "CUDA illegal memory access, usually a kernel bug (recalled)", [
    "TB",
    "RuntimeError: CUDA error: an illegal memory access was encountered",
] + CUDA_ASYNC, "serve")
S("unk-device-assert", C, ["vllm", "pytorch", "tgi"], "CUDA device-side assert (recalled)", [
    "../aten/src/ATen/native/cuda/Indexing.cu:«line»: indexSelectLargeIndex: block: [«small»,0,0], thread: [«small»,0,0] Assertion `srcIndex < srcSelectDimSize` failed.",
    "TB",
    "RuntimeError: CUDA error: device-side assert triggered",
] + CUDA_ASYNC, "serve")
S("unk-inductor-compile", C, ["vllm", "sglang", "pytorch"], "torch inductor compile failure (recalled)", [
    "TB",
    "torch._dynamo.exc.BackendCompilerFailed: backend='inductor' raised:",
    "CalledProcessError: Command '['/usr/bin/gcc', '/tmp/tmp«rand6»/main.c', '-O3', '-shared', '-fPIC', '-o', '/tmp/tmp«rand6»/cuda_utils.cpython-312-x86_64-linux-gnu.so', '-lcuda']' returned non-zero exit status 1.",
], "profile")
S("unk-triton-no-cc", C, ["vllm", "sglang", "pytorch"], "Triton compiler without a C compiler (recalled)", [
    "TB",
    "RuntimeError: Failed to find C compiler. Please specify via CC environment variable.",
], "profile")
S("unk-redis-refused", C, ["pytorch", "vllm"], "redis connection refused for a sidecar (redis-py wording)", [
    "TB",
    "redis.exceptions.ConnectionError: Error 111 connecting to redis-master:6379. Connection refused.",
], "init")
S("unk-too-many-files", C, PY_SERVERS, "EMFILE (Python wording)", [
    "TB",
    "OSError: [Errno 24] Too many open files",
], "serve")
S("unk-event-loop-closed", C, ["vllm", "pytorch", "sglang"], "asyncio RuntimeError (Python wording)", [
    "TB",
    "RuntimeError: Event loop is closed",
], "serve")
S("unk-assertion-internal", C, ["vllm", "sglang"], "internal AssertionError without a message (Python wording)", [
    "TB",
    '  File "«site»/vllm/v1/core/sched/scheduler.py", line «line», in schedule',
    "    assert num_new_tokens > 0",
    "AssertionError",
], "serve")
S("unk-json-decode-request", C, PY_SERVERS, "JSONDecodeError in request handling (Python wording)", [
    "TB",
    "json.decoder.JSONDecodeError: Expecting value: line 1 column 1 (char 0)",
], "serve")
S("unk-abort-assert", C, ["llama.cpp", "ollama"], "ggml assertion abort (recalled)", [
    "/app/ggml/src/ggml.c:«line»: GGML_ASSERT(ggml_can_mul_mat(a, b)) failed",
    "Aborted (core dumped)",
], "serve")
S("unk-cert-verify", C, ["pytorch", "vllm"], "TLS verification failure to an internal endpoint (Python wording)", [
    "TB",
    "requests.exceptions.SSLError: HTTPSConnectionPool(host='auth.internal.example.com', port=443): Max retries exceeded with url: /oauth/token (Caused by SSLError(SSLCertVerificationError(1, '[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: self-signed certificate in certificate chain (_ssl.c:1006)')))",
], "init")
S("unk-ctrl-c", C, PY_SERVERS, "interactive KeyboardInterrupt after serving (Python wording)", [
    "READY",
    "^C",
    "TB",
    "KeyboardInterrupt",
], "serve")
S("unk-exit-1-no-reason", C, ALL_SERVERS, "synthetic: a log that ends with a generic exit and no cause", [
    "READY",
    "@E server exited with status 1",
], "serve")
