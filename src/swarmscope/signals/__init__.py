"""Signals computed from posts before traces: near-duplicate text clusters (more to come)."""
