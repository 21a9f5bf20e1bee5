"""Figures: the house style and axes (style), the figures of one run (runs). Every figure is drawn
inside the house style's context and never changes matplotlib's global settings."""
