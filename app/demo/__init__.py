"""`tgwa demo`: the embedded world, seeded with partners, staff and open cases."""
