"""Helpers shared by the documents actions."""
