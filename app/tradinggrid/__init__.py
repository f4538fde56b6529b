"""The Trading Grid port (contract section 5) and its adapters: HTTP and embedded SQLite."""
