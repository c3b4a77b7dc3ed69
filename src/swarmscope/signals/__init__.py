"""Behavioural signals of accounts, beyond co-action."""
