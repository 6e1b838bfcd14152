"""Where a model runs besides HF transformers (vLLM, OpenAI-compatible servers) and how a
model name becomes a local folder."""
