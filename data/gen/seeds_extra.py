"""Yet more phrasings, aimed at the classes where the model alone generalised
worst: other servers' loggers printing the same CUDA driver error, host OOM
as seen while loading shards, GPU OOM in other framings, NCCL failures from
the watchdog and the transport layer, GPUs that are not visible, weight
loading from hub, disk and GGUF, and negatives (healthy logs and crashes
outside the taxonomy). Same conventions as seeds.py.

Origins say "recalled" where the short error string is what the project
prints as remembered from its source or issue threads, and "synthetic" where
the wording is a made-up paraphrase (a wrapper, an operator's script) meant
to widen the variety. Values are all slots."""

from seeds import ALL_SERVERS, CUDA_ASYNC, PY_SERVERS, S

EV = ["Events:", "  Type     Reason     Age                From               Message", "  ----     ------     ----               ----               -------"]

# =============================================================== cuda-driver-mismatch
C = "cuda-driver-mismatch"
S("x-drv-triton-stream-insufficient", C, ["triton"], "Triton server failing to create a CUDA stream on an old driver (recalled from Triton issue logs)", [
    "@E Failed to create CUDA stream: unable to create stream: CUDA driver version is insufficient for CUDA runtime version",
    "@E error: creating server: Internal - failed to initialize CUDA memory manager: CUDA driver version is insufficient for CUDA runtime version",
], "init")
S("x-drv-triton-ptx-stream", C, ["triton"], "Triton/TensorRT: PTX built by a newer toolchain than the driver supports (recalled CUDA error string, Triton logger framing approximate)", [
    "@E unable to create stream: the provided PTX was compiled with an unsupported toolchain.",
    "@E failed to load model '«rand6»': the provided PTX was compiled with an unsupported toolchain.",
], "load")
S("x-drv-trt-logger-35", C, ["triton", "pytorch"], "TensorRT logger printing cudaErrorInsufficientDriver (error 35) (recalled from TensorRT issue logs)", [
    "[TRT] [E] 1: [defaultAllocator.cpp::allocate::«line»] Error Code 1: Cuda Runtime (CUDA driver version is insufficient for CUDA runtime version)",
    "[TRT] [E] 6: CUDA initialization failure with error: 35. Please check your CUDA installation: http://docs.nvidia.com/cuda/cuda-installation-guide-linux/index.html",
], "load")
S("x-drv-ort-insufficient", C, ["triton", "pytorch"], "ONNX Runtime CUDA provider error naming cudaErrorInsufficientDriver (recalled from onnxruntime issues)", [
    "«site»/onnxruntime/capi/onnxruntime_inference_collection.py:«line»: UserWarning: Specified provider 'CUDAExecutionProvider' is not in available provider names.Available providers: 'CPUExecutionProvider'",
    "[E:onnxruntime:Default, provider_bridge_ort.cc:«line» TryGetProviderInfo_CUDA] /onnxruntime_src/onnxruntime/core/session/provider_bridge_ort.cc:«line» onnxruntime::Provider& onnxruntime::ProviderLibrary::Get() [ONNXRuntimeError] : 1 : FAIL : CUDA failure 35: CUDA driver version is insufficient for CUDA runtime version ; GPU=0 ; hostname=«host» ; expr=cudaSetDevice(info_.device_id);",
], "load")
S("x-drv-cudart-enum-35", C, ALL_SERVERS, "CUDA runtime enum name and number, as many C++ wrappers print them (synthetic wrapper around the runtime's error name)", [
    "@E CUDA call failed: cudaGetDeviceCount() returned 35 (cudaErrorInsufficientDriver): CUDA driver version is insufficient for CUDA runtime version",
], "init")
S("x-drv-cli-requirement-plain", C, ALL_SERVERS, "nvidia-container-cli requirement check, the bare stderr line in a containerd error (recalled from NVIDIA container toolkit issues)", [
    "docker: Error response from daemon: failed to create task for container: failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: error during container init: error running hook #0: error running hook: exit status 1, stdout: , stderr: Auto-detected mode as 'legacy'",
    "nvidia-container-cli: requirement error: unsatisfied condition: cuda>=«cuda», please update your driver to a newer version, or use an earlier cuda container: unknown.",
], "init")
S("x-drv-cli-requirement-runcontainererror", C, ALL_SERVERS, "kubectl get/describe showing RunContainerError with the toolkit's cuda requirement (Kubernetes + toolkit wording, recalled)", [
    "NAME                             READY   STATUS               RESTARTS      AGE",
    "«host»   0/1     RunContainerError    «restarts» («age» ago)   «age»",
    "    Last State:     Terminated",
    "      Reason:       StartError",
    "      Message:      failed to create containerd task: failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: error during container init: error running prestart hook #0: exit status 1, stdout: , stderr: nvidia-container-cli: requirement error: unsatisfied condition: cuda>=«cuda», please update your driver to a newer version, or use an earlier cuda container: unknown",
    "      Exit Code:    128",
], "init")
S("x-drv-nvml-mismatch-vllm-pynvml", C, ["vllm", "sglang"], "pynvml raised at start-up after a driver upgrade without reboot (NVML wording, recalled)", [
    "TB",
    '  File "«site»/pynvml.py", line «line», in nvmlInit',
    "    _nvmlCheckReturn(ret)",
    "pynvml.NVMLError_LibRmVersionMismatch: RM has detected an NVML/RM version mismatch.",
    "@W NVML: Driver/library version mismatch (NVML library version: «driver»)",
], "init")
S("x-drv-nvml-mismatch-dmesg", C, ALL_SERVERS, "kernel NVRM message for a userspace/kernel module version mismatch (recalled NVRM wording), with nvidia-smi", [
    "NVRM: API mismatch: the client has the version «driver», but",
    "NVRM: this kernel module has the version 535.«n2».  Please",
    "NVRM: make sure that this kernel module and all NVIDIA driver",
    "NVRM: components have the same version.",
    "Failed to initialize NVML: Driver/library version mismatch",
], "init")
S("x-drv-llamacpp-cuda-35", C, ["llama.cpp", "ollama"], "ggml-cuda error with the runtime's insufficient-driver string inside a CUDA call (recalled from llama.cpp issues)", [
    "CUDA error: CUDA driver version is insufficient for CUDA runtime version",
    "  current device: -1, in function ggml_cuda_init at /app/ggml/src/ggml-cuda/ggml-cuda.cu:«line»",
    "  cudaGetDeviceCount(&device_count)",
    "/app/ggml/src/ggml-cuda/ggml-cuda.cu:«line»: CUDA error",
], "init")
S("x-drv-ollama-cudart-version", C, ["ollama"], "Ollama GPU discovery reporting cudart init failure 35 (recalled from ollama issues, wording approximate)", [
    'time=«iso» level=WARN source=gpu.go:«line» msg="cudart init failure" error="cudart init failure: 35"',
    'time=«iso» level=INFO source=gpu.go:«line» msg="no compatible GPUs were discovered"',
    'time=«iso» level=INFO source=types.go:«line» msg="inference compute" id=0 library=cpu variant=avx2 compute="" driver=0.0 name="" total="«gib» GiB" available="«gib» GiB"',
], "init")
S("x-drv-paraphrase-image-newer", C, ALL_SERVERS, "synthetic: an operator's pre-flight check explaining the driver/image gap", [
    "preflight: node driver «driver» (CUDA 11.x) is older than this image's CUDA «cuda» runtime; cuInit returned CUDA_ERROR_INSUFFICIENT_DRIVER",
    "preflight: refusing to start; schedule onto a node with a newer driver or pick an image built for an older CUDA",
], "init")
S("x-drv-cupy-cudart35", C, ["pytorch", "vllm", "triton"], "CuPy raising cudaErrorInsufficientDriver (recalled CuPy exception form)", [
    "TB",
    '  File "cupy_backends/cuda/api/runtime.pyx", line «line», in cupy_backends.cuda.api.runtime.getDeviceCount',
    "    check_status(status)",
    "cupy_backends.cuda.api.runtime.CUDARuntimeError: cudaErrorInsufficientDriver: CUDA driver version is insufficient for CUDA runtime version",
], "init")

# =============================================================== host-oom
C = "host-oom"
S("x-host-killed-safetensors", C, ["vllm", "sglang", "pytorch"], "bare 'Killed' from the shell while safetensors shards load (recalled from vLLM/transformers issue logs)", [
    "Loading safetensors checkpoint shards:  «pct»% Completed | «shard_i»/«shard_n» [00:«small»<00:«small»,  «secs»s/it]",
    "Killed",
], "load")
S("x-host-killed-transformers-shards", C, ["pytorch", "tgi", "triton"], "transformers progress bar then the kernel's kill (recalled from transformers issue logs)", [
    "Loading checkpoint shards:  «pct»%|███▋      | «shard_i»/«shard_n» [00:«small»<01:«small», «secs»s/it]",
    "/bin/bash: line 1:     «pid» Killed                  python «script» --model «model»",
], "load")
S("x-host-defaultcpuallocator", C, PY_SERVERS, "PyTorch DefaultCPUAllocator message (recalled from c10/core/impl/alloc_cpu.cpp)", [
    "TB",
    '  File "«site»/torch/nn/modules/module.py", line «line», in _apply',
    "    param_applied = fn(param)",
    "RuntimeError: [enforce fail at alloc_cpu.cpp:«line»] . DefaultCPUAllocator: can't allocate memory: you tried to allocate «bytes» bytes. Error code 12 (Cannot allocate memory)",
], "load")
S("x-host-ollama-system-memory-500", C, ["ollama"], "Ollama API error for insufficient system memory (recalled from ollama's llm/server.go)", [
    '[GIN] «iso» | 500 | «secs»s |       127.0.0.1 | POST     "/api/generate"',
    "Error: model requires more system memory («gib» GiB) than is available («gib2» GiB)",
], "load")
S("x-host-numpy-arraymemoryerror", C, ["pytorch", "triton", "tgi"], "numpy _ArrayMemoryError (recalled numpy wording)", [
    "TB",
    '  File "«site»/numpy/core/numeric.py", line «line», in zeros_like',
    "    res = empty_like(a, dtype=dtype, order=order, subok=subok, shape=shape)",
    "numpy.core._exceptions._ArrayMemoryError: Unable to allocate «gib» GiB for an array with shape («vocab», «hidden») and data type float32",
], "load")
S("x-host-mmap-cannot-allocate", C, ["llama.cpp", "ollama", "pytorch"], "mmap failing with ENOMEM while mapping weights (strerror wording; llama.cpp framing approximate)", [
    "llama_model_load: error loading model: mmap failed: Cannot allocate memory",
    "llama_load_model_from_file: failed to load model",
], "load")
S("x-host-tgi-shard-signal-9", C, ["tgi"], "TGI launcher reporting a shard killed by signal 9 (recalled from text-generation-launcher)", [
    "@E Shard «rank» failed to start",
    "@E Shard process was signaled to shutdown with signal 9",
    "@I Shutting down shards",
    "Error: ShardCannotStart",
], "load")
S("x-host-tgi-download-signal-9", C, ["tgi"], "TGI launcher: weight conversion/download process killed by signal 9 (recalled from text-generation-launcher)", [
    "@I Convert: [«shard_i»/«shard_n»] -- Took: 0:00:«small».«n2»",
    "@E Download process was signaled to shutdown with signal 9: ",
    "Error: DownloadError",
], "download")
S("x-host-mp-exitcode-9", C, ["vllm"], "multiprocessing worker ending with exitcode -9 (Python multiprocessing wording; the wrapping message is synthetic)", [
    "@E Worker proc VllmWorker-«rank» died unexpectedly, shutting down executor.",
    "@E Process «pid» exited with exitcode -9 (SIGKILL); the node was likely out of host memory while loading weights",
], "load")
S("x-host-torchrun-signal-9", C, ["pytorch", "sglang"], "torch.distributed.elastic reporting a child killed by SIGKILL (recalled elastic wording)", [
    "torch.distributed.elastic.multiprocessing.api: [WARNING] Sending process «pid» closing signal SIGTERM",
    "torch.distributed.elastic.multiprocessing.api: [ERROR] failed (exitcode: -9) local_rank: «rank» (pid: «pid») of binary: /usr/bin/python3",
    "torch.distributed.elastic.multiprocessing.errors.ChildFailedError: ",
    "  exitcode  : -9 (pid: «pid»)",
    "  error_file: <N/A>",
    "  traceback : Signal 9 (SIGKILL) received by PID «pid»",
], "load")
S("x-host-memcg-oom-kill", C, ALL_SERVERS, "kernel memcg OOM killer lines as in dmesg (recalled kernel wording)", [
    "[«kts»] python3 invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=«pct»",
    "[«kts»] Memory cgroup out of memory: Killed process «pid» (python3) total-vm:«n3»kB, anon-rss:«n3»kB, file-rss:«n2»kB, shmem-rss:0kB, UID:0 pgtables:«n2»kB oom_score_adj:«pct»",
], "load")
S("x-host-paraphrase-shards", C, ALL_SERVERS, "synthetic: a wrapper explaining a SIGKILL during weight loading", [
    "@E model server exited with signal 9 (SIGKILL) while loading shard «shard_i» of «shard_n»; container memory limit reached (resident «gib» GiB)",
], "load")

# =============================================================== gpu-oom
C = "gpu-oom"
S("x-oom-vllm-free-memory-startup", C, ["vllm"], "vLLM v1 start-up check of free GPU memory against the utilization target (recalled from vllm/v1/worker/gpu_worker.py)", [
    "TB",
    '  File "«site»/vllm/v1/worker/gpu_worker.py", line «line», in init_device',
    "    raise ValueError(",
    "ValueError: Free memory on device («gib»/«gib3» GiB) on startup is less than desired GPU memory utilization («frac», «gib» GiB). Decrease GPU memory utilization or reduce GPU memory used by other processes.",
], "load")
S("x-oom-cublas-alloc-matmul", C, PY_SERVERS, "cuBLAS handle creation failing for lack of memory (recalled PyTorch wording)", [
    "TB",
    "RuntimeError: CUDA error: CUBLAS_STATUS_ALLOC_FAILED when calling `cublasCreate(handle)`",
] + CUDA_ASYNC[:2], "profile")
S("x-oom-cudamalloc-failed-trt", C, ["triton"], "TensorRT-LLM / Triton allocator: cudaMalloc failed (approximate wording of the allocator error)", [
    "@E [TensorRT-LLM][ERROR] CUDA runtime error in ::cudaMallocAsync(ptr, n, mCudaStream->get()): out of memory (/tmp/tritonbuild/tensorrtllm/tensorrt_llm/cpp/tensorrt_llm/runtime/tllmBuffers.h:«line»)",
    "@E failed to load '«rand6»' version 1: Internal: unexpected error when creating modelInstanceState: cudaMalloc failed: out of memory",
], "load")
S("x-oom-tried-to-allocate-logged", C, ["vllm", "sglang"], "CUDA OOM message inside a logged exception of a worker (PyTorch OOM wording, recalled)", [
    "@E Exception in worker VllmWorkerProcess while processing method load_model.",
    "@E torch.OutOfMemoryError: CUDA out of memory. Tried to allocate «mib» MiB. GPU «rank» has a total capacity of «gib3» GiB of which «mib» MiB is free. Process «pid» has «gib3» GiB memory in use. Of the allocated memory «gib» GiB is allocated by PyTorch, and «mib» MiB is reserved by PyTorch but unallocated.",
], "load")
S("x-oom-tried-to-allocate-tgi", C, ["tgi"], "TGI shard error with the CUDA OOM message (recalled from TGI issue logs)", [
    "@E Method Warmup encountered an error.",
    "TB",
    "torch.cuda.OutOfMemoryError: CUDA out of memory. Tried to allocate «gib» GiB. GPU «rank» has a total capacty of «gib3» GiB of which «mib» MiB is free. Including non-PyTorch memory, this process has «gib3» GiB memory in use.",
    "@E Server error: CUDA out of memory. Tried to allocate «gib» GiB.",
], "profile")
S("x-oom-accelerate-dispatch", C, ["pytorch"], "CUDA OOM while accelerate dispatches the model to the GPU (PyTorch OOM wording; frames recalled from accelerate)", [
    "TB",
    '  File "«site»/accelerate/utils/modeling.py", line «line», in set_module_tensor_to_device',
    "    new_value = value.to(device)",
    "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate «mib» MiB. GPU 0 has a total capacity of «gib3» GiB of which «mib» MiB is free.",
], "load")
S("x-oom-cuda-error-out-of-memory-runtime", C, ["sglang", "vllm", "pytorch"], "CUDA runtime error 2 from a custom kernel allocation (recalled CUDA error string)", [
    "TB",
    "RuntimeError: CUDA error: out of memory",
] + CUDA_ASYNC, "profile")
S("x-oom-llamacpp-cudamalloc", C, ["llama.cpp", "ollama"], "ggml-cuda buffer allocation failing (recalled from llama.cpp issues)", [
    "ggml_backend_cuda_buffer_type_alloc_buffer: allocating «mib2» MiB on device 0: cudaMalloc failed: out of memory",
    "alloc_tensor_range: failed to allocate CUDA0 buffer of size «bytes»",
    "llama_model_load: error loading model: unable to allocate CUDA0 buffer",
], "load")
S("x-oom-paraphrase-vram-short", C, ALL_SERVERS, "synthetic: a wrapper's summary of a GPU allocation failure", [
    "@E GPU «rank» ran out of memory: needed «gib» GiB more for the model weights, only «mib» MiB free of «gib3» GiB",
], "load")

# =============================================================== nccl-failure
C = "nccl-failure"
S("x-nccl-watchdog-allreduce", C, ["vllm", "sglang", "pytorch", "tgi"], "ProcessGroupNCCL watchdog timeout on an ALLREDUCE (recalled PyTorch wording)", [
    "[rank«rank»]:[E«mmdd» «hhmmss».«n2» ProcessGroupNCCL.cpp:«line»] [PG ID 0 PG GUID 0(default_pg) Rank «rank»] Watchdog caught collective operation timeout: WorkNCCL(SeqNum=«seqnum», OpType=ALLREDUCE, NumelIn=«numel», NumelOut=«numel», Timeout(ms)=«timeout_ms») ran for «timeout_ms» milliseconds before timing out.",
    "[rank«rank»]:[E«mmdd» «hhmmss».«n2» ProcessGroupNCCL.cpp:«line»] [PG ID 0 PG GUID 0(default_pg) Rank «rank»] To avoid data inconsistency, we are taking the entire process down.",
    "terminate called after throwing an instance of 'c10::DistBackendError'",
], "profile")
S("x-nccl-unhandled-system-shm", C, ["vllm", "sglang", "pytorch", "tgi"], "NCCL unhandled system error with the /dev/shm hint (recalled from PyTorch/NCCL issue logs)", [
    "TB",
    "torch.distributed.DistBackendError: NCCL error in: ../torch/csrc/distributed/c10d/ProcessGroupNCCL.cpp:«line», unhandled system error (run with NCCL_DEBUG=INFO for details), NCCL version «nccl»",
    "ncclSystemError: System call (e.g. socket, malloc) or external library call failed or device error. ",
    "Last error:",
    "Error while creating shared memory segment /dev/shm/nccl-«rand6» (size «n3»)",
], "profile")
S("x-nccl-shm-warn-lines", C, ALL_SERVERS, "NCCL WARN lines for a too-small /dev/shm (recalled NCCL wording)", [
    "«host»:«pid»:«tid» [«rank»] include/alloc.h:«line» NCCL WARN Error while creating shared memory segment /dev/shm/nccl-«rand6» (size «n3»), error: No space left on device (28)",
    "«host»:«pid»:«tid» [«rank»] NCCL INFO transport/shm.cc:«line» -> 2",
    "«host»:«pid»:«tid» [«rank»] NCCL INFO transport.cc:«line» -> 2",
], "profile")
S("x-nccl-remote-error", C, ["vllm", "pytorch", "sglang"], "ncclRemoteError raised after a peer died (recalled NCCL wording)", [
    "TB",
    "torch.distributed.DistBackendError: NCCL error in: ../torch/csrc/distributed/c10d/NCCLUtils.hpp:«line», remote process exited or there was a network error, NCCL version «nccl»",
    "ncclRemoteError: A call failed possibly due to a network error or a remote process exiting prematurely.",
    "Last error:",
    "NET/IB : Got completion from peer «ip»<«mport»> with status=12 opcode=0 len=0 vendor err 129 (Recv) localGid ::ffff:«ip» remoteGidsfe80::",
], "serve")
S("x-nccl-ib-warn", C, ["vllm", "pytorch", "sglang", "tgi"], "NCCL WARN from the IB transport (recalled NCCL wording)", [
    "«host»:«pid»:«tid» [«rank»] transport/net_ib.cc:«line» NCCL WARN NET/IB : Got completion from peer «ip»<«mport»> with error 12, opcode 0, len 0, vendor err 129 (Recv)",
    "«host»:«pid»:«tid» [«rank»] NCCL INFO transport/net.cc:«line» -> 6",
    "«host»:«pid»:«tid» [«rank»] NCCL INFO proxy.cc:«line» -> 6 [Progress Thread]",
], "serve")
S("x-nccl-socket-warn", C, ["vllm", "pytorch", "sglang"], "NCCL WARN for a failed socket connect between nodes (recalled NCCL wording)", [
    "«host»:«pid»:«tid» [«rank»] misc/socket.cc:«line» NCCL WARN socketProgress: Connection closed by remote peer «ip»<«mport»>",
    "«host»:«pid»:«tid» [«rank»] NCCL INFO misc/socket.cc:«line» -> 6",
    "RuntimeError: NCCL communicator was aborted on rank «rank». Original reason for failure was: NCCL error: remote process exited or there was a network error",
], "profile")
S("x-nccl-watchdog-broadcast-vllm", C, ["vllm"], "watchdog timeout on a BROADCAST during vLLM TP start-up (PyTorch wording, recalled)", [
    "[rank«rank»]:[E«mmdd» «hhmmss».«n2» ProcessGroupNCCL.cpp:«line»] [Rank «rank»] Watchdog caught collective operation timeout: WorkNCCL(SeqNum=«seqnum», OpType=BROADCAST, NumelIn=«numel», NumelOut=«numel», Timeout(ms)=«timeout_ms») ran for «timeout_ms» milliseconds before timing out.",
    "@E Worker proc VllmWorker-«rank1» died unexpectedly, shutting down executor.",
], "load")
S("x-nccl-invalid-usage", C, ["pytorch", "sglang", "vllm"], "ncclInvalidUsage from duplicate GPUs per rank (recalled NCCL wording)", [
    "TB",
    "torch.distributed.DistBackendError: NCCL error in: ../torch/csrc/distributed/c10d/ProcessGroupNCCL.cpp:«line», invalid usage (run with NCCL_DEBUG=WARN for details), NCCL version «nccl»",
    "ncclInvalidUsage: This usually reflects invalid usage of NCCL library.",
    "Last error:",
    "Duplicate GPU detected : rank «rank1» and rank 0 both on CUDA device «pci»",
], "profile")
S("x-nccl-paraphrase-shm-k8s", C, ALL_SERVERS, "synthetic: an operator note that NCCL needs a bigger /dev/shm (emptyDir medium Memory)", [
    "@E tensor-parallel init failed: NCCL could not create its shared memory segment in /dev/shm (container default 64Mi); mount an emptyDir with medium: Memory at /dev/shm",
], "profile")

# =============================================================== no-gpu-visible
C = "no-gpu-visible"
S("x-nogpu-triton-no-device", C, ["triton"], "Triton start-up without a GPU (recalled Triton log lines)", [
    "@W Unable to allocate pinned system memory, pinned memory pool will not be available: no CUDA-capable device is detected",
    "@I CUDA memory pool disabled",
    "@E error: creating server: Internal - failed to load all models: unable to get number of CUDA devices: no CUDA-capable device is detected",
], "init")
S("x-nogpu-triton-stream-nodev", C, ["triton"], "Triton model instance creation without a GPU (recalled CUDA error string; framing approximate)", [
    "@E failed to load '«rand6»' version 1: Internal: unable to create stream: no CUDA-capable device is detected",
], "load")
S("x-nogpu-found-no-driver", C, PY_SERVERS, "PyTorch 'Found no NVIDIA driver on your system' (recalled from torch/cuda/__init__.py)", [
    "TB",
    '  File "«site»/torch/cuda/__init__.py", line «line», in _lazy_init',
    "    torch._C._cuda_init()",
    "RuntimeError: Found no NVIDIA driver on your system. Please check that you have an NVIDIA GPU and installed a driver from http://www.nvidia.com/Download/index.aspx",
], "init")
S("x-nogpu-cvd-empty", C, ["vllm", "sglang", "pytorch", "tgi"], "CUDA_VISIBLE_DEVICES set empty, then no GPUs (PyTorch wording recalled; env echo synthetic)", [
    "+ echo CUDA_VISIBLE_DEVICES=",
    "CUDA_VISIBLE_DEVICES=",
    "TB",
    "RuntimeError: No CUDA GPUs are available",
], "init")
S("x-nogpu-is-available-false", C, PY_SERVERS, "an entrypoint's assertion on torch.cuda.is_available() (synthetic wording, common pattern)", [
    "TB",
    '  File "/app/«script»", line «line», in <module>',
    "    assert torch.cuda.is_available(), \"CUDA is not available\"",
    "AssertionError: CUDA is not available",
], "init")
S("x-nogpu-is-available-false-log", C, ALL_SERVERS, "synthetic: a start-up check logging torch.cuda.is_available() is False", [
    "@W torch.cuda.is_available() is False; torch.cuda.device_count() = 0",
    "@E No GPU visible to this container (is nvidia.com/gpu requested in the pod's resources?)",
], "init")
S("x-nogpu-ollama-no-gpu-detected", C, ["ollama"], "Ollama GPU discovery finding nothing (recalled ollama log lines)", [
    'time=«iso» level=INFO source=gpu.go:«line» msg="looking for compatible GPUs"',
    'time=«iso» level=WARN source=gpu.go:«line» msg="no NVIDIA GPU detected"',
    'time=«iso» level=INFO source=gpu.go:«line» msg="no compatible GPUs were discovered"',
], "init")

# =============================================================== weight-load-failure
C = "weight-load-failure"
S("x-wl-gguf-invalid-magic", C, ["llama.cpp", "ollama"], "llama.cpp GGUF reader rejecting a non-GGUF file (recalled gguf.c wording)", [
    "gguf_init_from_file_impl: invalid magic characters: '<!DO', expected 'GGUF'",
    "llama_model_load: error loading model: llama_model_loader: failed to load model from /models/«gguf»",
    "llama_model_load_from_file_impl: failed to load model",
], "load")
S("x-wl-gguf-truncated", C, ["llama.cpp", "ollama"], "GGUF file cut short by an interrupted download (recalled llama.cpp wording; approximate)", [
    "gguf_init_from_file_impl: failed to read tensor data",
    "llama_model_load: error loading model: llama_model_loader: failed to load model from /models/«gguf»",
    "common_init_from_params: failed to load model '/models/«gguf»'",
    "main: error: unable to load model",
], "load")
S("x-wl-ollama-failed-load-corrupt", C, ["ollama"], "Ollama: the runner cannot read a corrupted blob (recalled ollama error shape)", [
    'time=«iso» level=ERROR source=sched.go:«line» msg="error loading llama server" error="llama runner process has terminated: error loading model: tensor \'«tensor»\' data is not within the file bounds, model is corrupted or incomplete"',
    "Error: llama runner process has terminated: error loading model: tensor data is not within the file bounds, model is corrupted or incomplete",
], "load")
S("x-wl-safetensors-header-too-large", C, ["vllm", "tgi", "sglang", "pytorch"], "safetensors HeaderTooLarge on a Git LFS pointer or HTML page saved as weights (recalled safetensors error)", [
    "TB",
    '  File "«site»/safetensors/torch.py", line «line», in load_file',
    "    with safe_open(filename, framework=\"pt\", device=device) as f:",
    "safetensors_rust.SafetensorError: Error while deserializing header: HeaderTooLarge",
], "load")
S("x-wl-safetensors-incomplete", C, ["vllm", "tgi", "sglang", "pytorch"], "safetensors 'incomplete metadata, file not fully covered' (recalled safetensors error)", [
    "TB",
    "safetensors_rust.SafetensorError: Error while deserializing header: MetadataIncompleteBuffer",
    "@E The shard model-0000«shard_i»-of-0000«shard_n».safetensors looks truncated: incomplete metadata, file not fully covered",
], "load")
S("x-wl-local-entry-not-found", C, ["vllm", "tgi", "sglang", "pytorch"], "huggingface_hub LocalEntryNotFoundError in offline mode (recalled hub wording)", [
    "TB",
    '  File "«site»/huggingface_hub/file_download.py", line «line», in _raise_on_head_call_error',
    "    raise LocalEntryNotFoundError(",
    "huggingface_hub.errors.LocalEntryNotFoundError: Cannot find the requested files in the disk cache and outgoing traffic has been disabled. To enable hf.co look-ups and downloads online, set 'local_files_only' to False.",
], "download")
S("x-wl-hf-hub-offline-oserror", C, ["vllm", "tgi", "pytorch", "triton"], "transformers OSError with HF_HUB_OFFLINE=1 and no cached snapshot (recalled transformers wording)", [
    "@I HF_HUB_OFFLINE=1: running in offline mode",
    "TB",
    "OSError: We couldn't connect to 'https://huggingface.co' to load the files, and couldn't find them in the cached files. Check your internet connection or see how to run the library in offline mode at 'https://huggingface.co/docs/transformers/installation#offline-mode'.",
], "download")
S("x-wl-no-space-download", C, ["vllm", "tgi", "sglang", "pytorch"], "ENOSPC while the hub writes a shard into the cache (Python OSError wording)", [
    "model-0000«shard_i»-of-0000«shard_n».safetensors:  «pct»%|█████▌    | «gib»G/«gib3»G [00:«small»<00:«small», «mib»MB/s]",
    "TB",
    '  File "«site»/huggingface_hub/file_download.py", line «line», in http_get',
    "    temp_file.write(chunk)",
    "OSError: [Errno 28] No space left on device",
], "download")
S("x-wl-no-space-ollama-pull", C, ["ollama"], "Ollama pull running out of disk (Go error wording; framing approximate)", [
    'time=«iso» level=INFO source=download.go:«line» msg="downloading «hex8» in «small» «mib» MB part(s)"',
    "Error: write /root/.ollama/models/blobs/sha256-«sha»-partial-«small»: no space left on device",
], "download")
S("x-wl-gated-403-awaiting", C, ["vllm", "tgi", "sglang", "pytorch"], "huggingface_hub GatedRepoError 403 when access is not granted yet (recalled hub wording)", [
    "TB",
    "huggingface_hub.errors.GatedRepoError: 403 Client Error. (Request ID: «reqid»)",
    "",
    "Cannot access gated repo for url https://huggingface.co/«gated»/resolve/main/config.json.",
    "Access to model «gated» is restricted and you are not in the authorized list. Visit https://huggingface.co/«gated» to ask for access.",
], "download")
S("x-wl-repo-not-found-401", C, ["vllm", "tgi", "sglang", "pytorch", "triton"], "huggingface_hub RepositoryNotFoundError with a 401 (recalled hub wording)", [
    "TB",
    "huggingface_hub.errors.RepositoryNotFoundError: 401 Client Error. (Request ID: «reqid»)",
    "",
    "Repository Not Found for url: https://huggingface.co/api/models/«model»/revision/main.",
    "Please make sure you specified the correct `repo_id` and `repo_type`.",
    "If you are trying to access a private or gated repo, make sure you are authenticated.",
    "Invalid username or password.",
], "download")
S("x-wl-tgi-rust-hub-401", C, ["tgi"], "TGI router failing to fetch the tokenizer/config with a 401 (recalled hf-hub Rust error shape; approximate)", [
    "@E Could not retrieve model info from the Hugging Face hub.",
    "Error: Hub(RequestError(Status(401, Response[status: 401, status_text: Unauthorized, url: https://huggingface.co/api/models/«gated»])))",
], "download")
S("x-wl-paraphrase-pvc-empty", C, ALL_SERVERS, "synthetic: an init script finding no weights on the mounted volume", [
    "@E no *.safetensors or *.bin files found under /mnt/models (the PVC is empty or the download job did not finish)",
], "load")

# =============================================================== config-error (bad flags / busy port: config-error in this taxonomy)
C = "config-error"
S("x-cfg-sglang-unrecognized", C, ["sglang", "pytorch"], "argparse 'unrecognized arguments' from sglang.launch_server (Python argparse wording)", [
    "usage: launch_server.py [-h] --model-path MODEL_PATH [--tokenizer-path TOKENIZER_PATH] [--host HOST] [--port PORT] ...",
    "launch_server.py: error: unrecognized arguments: «badarg»",
], "init")
S("x-cfg-errno-98-bind", C, ["vllm", "sglang", "pytorch", "tgi"], "uvicorn/asyncio bind failure on a busy port (Python errno wording)", [
    "@E [Errno 98] error while attempting to bind on address ('0.0.0.0', «port»): address already in use",
    "@I Waiting for application shutdown.",
], "profile")
S("x-cfg-torch-cpu-only", C, ["pytorch", "vllm", "sglang"], "a CPU-only torch wheel asked for CUDA (recalled PyTorch wording; config-error as in patterns/pytorch.yaml torch-not-compiled-with-cuda)", [
    "TB",
    '  File "«site»/torch/cuda/__init__.py", line «line», in _lazy_init',
    '    raise AssertionError("Torch not compiled with CUDA enabled")',
    "AssertionError: Torch not compiled with CUDA enabled",
], "init")

# =============================================================== unknown
C = "unknown"
S("x-unk-healthy-triton-ready", C, ["triton", "vllm", "tgi"], "synthetic: healthy start-up of a server with a benign deprecation warning", [
    "READY",
    "@W The `--disable-log-requests` flag is deprecated and will be removed in a future release.",
], "serve")
S("x-unk-healthy-serving-long", C, ALL_SERVERS, "synthetic: a healthy server serving for a while", ["READY", "SERVING", "SERVING"], "serve")
S("x-unk-modulenotfound-custom", C, PY_SERVERS, "ModuleNotFoundError from a custom entrypoint (Python wording)", [
    "TB",
    '  File "/app/«script»", line «line», in <module>',
    "    from handlers.chat import build_router",
    "ModuleNotFoundError: No module named 'handlers'",
], "init")
S("x-unk-importerror-libgl", C, PY_SERVERS, "ImportError for a missing system library (Python/loader wording)", [
    "TB",
    "ImportError: libGL.so.1: cannot open shared object file: No such file or directory",
], "init")
S("x-unk-syntaxerror-entry", C, PY_SERVERS, "SyntaxError in a mounted custom entrypoint (Python wording)", [
    '  File "/app/«script»", line «line»',
    "    if model_name == \"llama\"",
    "                              ^",
    "SyntaxError: expected ':'",
], "init")
S("x-unk-segfault-tokenizer", C, ["pytorch", "tgi", "vllm"], "segfault in a CPU library without GPU context (faulthandler wording)", [
    "Fatal Python error: Segmentation fault",
    "",
    "Current thread 0x00007f«hex8» (most recent call first):",
    '  File "«site»/tokenizers/implementations/base_tokenizer.py", line «line» in encode_batch',
    '  File "/app/«script»", line «line» in preprocess',
    "Segmentation fault (core dumped)",
], "serve")
S("x-unk-exit-139-bare", C, ALL_SERVERS, "shell reporting a segfault of the server binary, no GPU context (shell wording)", [
    "/app/run.sh: line «small»: «pid» Segmentation fault      (core dumped) «cmd» \"$@\"",
], "init")
S("x-unk-unicode-decode-handler", C, PY_SERVERS, "UnicodeDecodeError in a custom request handler (Python wording)", [
    "TB",
    '  File "/app/«script»", line «line», in handle_upload',
    "    text = body.decode(\"utf-8\")",
    "UnicodeDecodeError: 'utf-8' codec can't decode byte 0xff in position «small»: invalid start byte",
], "serve")
S("x-unk-request-4xx-serving", C, ["vllm", "sglang", "tgi", "ollama"], "synthetic: a healthy server logging client errors", [
    "READY",
    "SERVING",
    "@W Request «rand6» rejected: 400 Bad Request: 'messages' must be a non-empty list",
    "SERVING",
], "serve")
S("x-unk-typeerror-json", C, PY_SERVERS, "TypeError from application code (Python wording)", [
    "TB",
    "TypeError: Object of type Tensor is not JSON serializable",
], "serve")
S("x-unk-connection-refused-backend", C, ["pytorch", "triton", "tgi"], "a client sidecar failing to reach a backend (Python requests wording)", [
    "TB",
    "requests.exceptions.ConnectionError: HTTPConnectionPool(host='localhost', port=«port»): Max retries exceeded with url: /v1/models (Caused by NewConnectionError('<urllib3.connection.HTTPConnection object at «addr»>: Failed to establish a new connection: [Errno 111] Connection refused'))",
], "serve")
S("x-unk-zerodivision-metrics", C, PY_SERVERS, "ZeroDivisionError in a custom metrics hook (Python wording)", [
    "TB",
    '  File "/app/«script»", line «line», in report_throughput',
    "    tps = tokens / elapsed",
    "ZeroDivisionError: division by zero",
], "serve")
