"""The daemon's surfaces: HTTP API, webhooks, metrics and the dashboard."""
