"""Shared parts of the ClickSign actions: the API client, signers, state and files."""
