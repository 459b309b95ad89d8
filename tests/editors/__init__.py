"""The editor clients, proven in the real editors (headless)."""
