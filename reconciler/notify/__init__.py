"""Notifications: events that need a human, routed to Slack, signed webhooks and email."""
