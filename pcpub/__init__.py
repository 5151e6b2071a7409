"""pc-publisher's operator command (`pcpub`) and the local stand-ins that only run off Azure:
the Partner Center simulator with its Entra and Key Vault stand-ins, the local functions host,
Azurite management and the demo. shared/ never imports this package."""
