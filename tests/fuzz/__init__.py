"""Fuzz targets and their corpus (see targets.py)."""
