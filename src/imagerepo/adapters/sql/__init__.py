"""Pieces shared by the SQL adapters: versioned migrations and row <-> domain translation."""
