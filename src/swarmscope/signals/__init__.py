"""Behavioural signals of single accounts, of clusters and of texts (near-duplicates), beside
the co-action tests."""
