"""cotbench: an lm-evaluation-harness plugin that measures efficient chain-of-thought methods."""

__version__ = "0.1.0"
