"""Interfaces the domain needs; adapters implement them without subclassing."""
