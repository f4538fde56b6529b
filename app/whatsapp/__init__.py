"""WhatsApp Cloud API: inbound parsing, outbound payloads within Meta's limits, the Graph client."""
