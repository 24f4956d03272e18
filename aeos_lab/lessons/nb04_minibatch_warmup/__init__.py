"""Notebook 04, minibatches and warmup: preconditioned sharpness against batch size (Fig. 6),
linear warmup (Fig. 7), and what breaks without it."""
