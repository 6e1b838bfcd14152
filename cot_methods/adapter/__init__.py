"""The lm-eval face: the registered adapter on HF and segment backends, its arguments,
`protocol=paper` and the journal that resumes a run. Only this folder knows lm-eval's HFLM."""
