"""The HTTP layer: the app factory, its shared parts (auth, errors, security, dependencies), the API and the pages."""
