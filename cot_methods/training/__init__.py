"""TRL-compatible recipes that produce step-entropy and ENTRA checkpoints: the compressed-CoT
SFT data builder and GRPO reward functions."""
