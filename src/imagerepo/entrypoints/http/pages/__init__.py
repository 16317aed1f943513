"""The server-rendered web UI, one module per page, on the same services as the API."""
