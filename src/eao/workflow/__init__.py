"""Workflow logic as plain, tested functions of the config (the .smk files are thin adapters)."""
