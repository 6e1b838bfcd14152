"""What methods measure, as plain functions of logits, token ids and text: entropy, top-k
entropy, steps, BIE, vocabulary. No lm-eval and no loop, so each is tested alone."""
