"""A stateful Partner Center ingestion API, with Entra ID and Key Vault stand-ins, on one port."""
