"""The WhatsApp Flows tgwa ships (their Flow JSON), to publish in WhatsApp Manager: see the README."""
