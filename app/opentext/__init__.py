"""OpenText's own APIs (contract section 8): Community Management, the company's partner directory
and users, and Lens, its transaction search; one client for both (`client.OpenText`)."""
