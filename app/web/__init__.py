"""One blueprint per surface: the WhatsApp webhook, Trading Grid events, ops, the sandbox."""
