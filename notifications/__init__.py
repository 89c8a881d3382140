"""Notifications: alert channels, the rules that choose them, maintenance windows."""
