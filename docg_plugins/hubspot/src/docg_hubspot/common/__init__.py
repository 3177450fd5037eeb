"""Helpers shared by the HubSpot actions, triggers and dynamic data."""
