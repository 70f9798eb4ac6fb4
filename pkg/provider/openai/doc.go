// Package openai implements the OpenAI Chat Completions and Embeddings wire format:
// the input schema (Frontend) callers speak, the backend adapter for OpenAI and
// every OpenAI-compatible server (Groq, Mistral, DeepSeek, Together, xAI,
// OpenRouter, vLLM, Ollama, LM Studio, Hugging Face TGI and router), and the
// passthrough fast path used when caller and backend both speak OpenAI.
//
// Translation goes through package canonical. Streams are decoded from and encoded
// to "chat.completion.chunk" server-sent events; the gateway always asks upstream
// for usage (stream_options.include_usage) and the passthrough UsageScanner strips
// the usage chunk again when the caller did not ask for it.
//
// Non-OpenAI extensions that are read: reasoning_content / reasoning (DeepSeek,
// vLLM, OpenRouter, Ollama) as thinking, prompt_cache_hit_tokens (DeepSeek) as
// cached tokens, x_groq.usage (Groq), numeric and string error codes, and the error
// shapes of TGI and vLLM. reasoning_content is also written for callers, as most
// OpenAI-compatible clients display it.
package openai
