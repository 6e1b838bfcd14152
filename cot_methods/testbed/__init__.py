"""The synthetic cot_arith testbed: its traces, the model builder, and the real reasoning-model
tokenizers the forced-text tests use."""
