"""The JSON API of API.md, one module per resource."""
