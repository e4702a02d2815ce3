"""Public pages anyone may open without logging in (certificate verification)."""
