"""A local Azure Functions host: runs the function app's own registered functions against
Azurite with the Functions queue and timer semantics."""
