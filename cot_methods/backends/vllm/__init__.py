"""vLLM's offline engine as a segment backend: the backend, one engine's start with memory
sized to what is free, and data parallelism over engine processes."""
