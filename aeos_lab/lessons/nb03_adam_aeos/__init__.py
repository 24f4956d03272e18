"""Notebook 03, Adam at the adaptive edge of stability: Fig. 1's sweeps, raw sharpness under
Adam and frozen Adam (Fig. 8), a window measured at every step (Figs. 9, 18), other adaptive
optimizers (Fig. 5), the tiny-eta corner case (Figs. 15, 16) and the CNN (Fig. 4)."""
