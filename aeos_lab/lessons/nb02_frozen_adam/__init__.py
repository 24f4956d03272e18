"""Notebook 02, frozen Adam: where Adam's P comes from, frozen Adam at the edge of stability
(Fig. 3), and Prop. 1 checked on the network."""
