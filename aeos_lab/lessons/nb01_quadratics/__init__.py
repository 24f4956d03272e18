"""Notebook 01, stability on quadratics: thresholds of GD, heavy ball and Nesterov, stability
maps, growth factors, large gradients while stable, preconditioning (Prop. 1), RMSprop."""
