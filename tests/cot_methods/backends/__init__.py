"""A package so that pytest puts tests/cot_methods, not this folder, on sys.path: otherwise the
`vllm/` folder below is importable as a namespace package named vllm, and libraries that probe for
vLLM (TRL's is_vllm_available) find it and fail on its missing version."""
