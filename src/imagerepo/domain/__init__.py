"""The pure core: entities, rules and services. Imports nothing from adapters or entrypoints."""
