"""The thinking loops that drive a `ThinkingPolicy`: token by token on a HF model, by segments
on vLLM or a server, and the row rules both share."""
