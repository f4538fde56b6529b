"""Conversations: who wrote, which thread a message belongs to, and the flows that answer."""
