"""Reusable layout pieces: the navbar, the launch form, run progress cards, grids."""
