"""Notebook 05, sharp solutions: sharpness and held-out accuracy at the solution against eta
and beta2 (Figs. 10, 19), Adam against momentum at equal speed (Fig. 11)."""
