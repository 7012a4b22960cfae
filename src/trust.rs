//! How much a log line can be trusted as evidence.
//!
//! A serving engine's log is written partly by strangers: with request
//! logging on, vLLM, SGLang, TGI, llama.cpp, Ollama and the proxies in front
//! of them echo users' prompts, messages and generated text into it. A
//! prompt that contains `NVRM: Xid ... 79` must not make podmedic cordon a
//! node, and a prompt that contains a KV-cache error must not change a
//! workload. [`is_request_echo`] recognises the lines that carry request
//! or response content; the diagnosis ignores them (no signature hit, no
//! classifier input, no `unless:` context), and the LLM second opinion
//! drops them before anything leaves the process.
//!
//! A prompt the engine prints with real newlines can spill over several
//! lines that look like anything; that is why a node-level action also needs
//! node-level corroboration (see `playbook::NodeFault`), whatever the log says.

/// Markers of request/response logging, matched case-sensitively where the
/// engines print them (each is followed by user content on the same line).
const ECHO_MARKERS: &[&str] = &[
    // vLLM's RequestLogger (`--enable-log-requests`, older default on).
    "Received request chatcmpl-",
    "Received request cmpl-",
    "Received request embd-",
    "Received request ",
    "Generated response ",
    // SGLang `--log-requests`.
    "Receive: obj=",
    "Finish: obj=",
    "GenerateReqInput(",
    "ChatCompletionRequest(",
    "CompletionRequest(",
    // TGI request spans, Ollama and llama.cpp debug logging, proxies.
    "inputs=\"",
    "inputs: \"",
    "prompt=\"",
    "prompt=<",
    "prompt: '",
    "prompt: \"",
    "prompt='",
    "\"prompt\":",
    "'prompt':",
    "\"messages\":",
    "'messages':",
    "\"input\":",
    "request: {",
    "Request body:",
    "POST Request Sent from LiteLLM",
    "output: '",
    "output_text=",
];

/// Whether a (normalised) log line echoes a request or its response, so
/// that its content came from a client, not from the engine.
pub fn is_request_echo(line: &str) -> bool {
    ECHO_MARKERS.iter().any(|m| line.contains(m))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn request_echoes_are_recognised() {
        for l in [
            "INFO 11-27 12:00:01 logger.py:37] Received request chatcmpl-8f2a: prompt: '<|user|>NVRM: Xid (PCI:0000:3b:00): 79, GPU has fallen off the bus', params: SamplingParams(n=1)",
            "(APIServer pid=1) INFO 05-14 09:12:44 [logger.py:41] Received request cmpl-1-0: prompt: 'ValueError: No available memory for the cache blocks', params: ...",
            "[2025-07-02 07:41:59] Receive: obj=GenerateReqInput(text='CUDA error: an illegal memory access was encountered', sampling_params={})",
            "INFO 06-01 10:00:00 [logger.py:48] Generated response chatcmpl-1: output: 'torch.OutOfMemoryError: CUDA out of memory.'",
            r#"time=2025-01-01T00:00:00Z level=DEBUG source=server.go:870 msg="completion request" prompt="<|im_start|>user NCCL error"#,
            r#"request: {"model": "qwen", "messages": [{"role": "user", "content": "Xid 79"}]}"#,
        ] {
            assert!(is_request_echo(l), "{l}");
        }
    }

    #[test]
    fn engine_errors_are_not_echoes() {
        for l in [
            "ValueError: The model's max seq len (32768) is larger than the maximum number of tokens that can be stored in KV cache (20144).",
            "NVRM: Xid (PCI:0000:3b:00): 79, pid=1234, GPU has fallen off the bus.",
            "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB",
            "RuntimeError: NCCL error in: ../torch/csrc/distributed/c10d/ProcessGroupNCCL.cpp:1970, unhandled system error",
            "INFO 07-02 12:00:00 gpu_executor.py:122] # GPU blocks: 2725, # CPU blocks: 2048",
            "ERROR 10-25 13:08:43 [core.py:708] EngineCore failed to start.",
            "2024-03-20T07:57:45.050465Z ERROR warmup{max_input_length=1024 max_prefill_tokens=1024 max_total_tokens=2048}:warmup: Server error: Not enough memory to handle 1024 prefill tokens.",
        ] {
            assert!(!is_request_echo(l), "{l}");
        }
    }

    proptest! {
        #[test]
        fn never_panics_and_a_logged_prompt_is_always_an_echo(s in "\\PC{0,300}") {
            let _ = is_request_echo(&s);
            let line = format!("INFO 01-01 00:00:00 logger.py:37] Received request chatcmpl-1: prompt: '{s}', params: x");
            prop_assert!(is_request_echo(&line));
        }
    }
}
