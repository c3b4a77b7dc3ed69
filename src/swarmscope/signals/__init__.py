"""Behavioural signals of single accounts and of clusters, beside the co-action tests."""
