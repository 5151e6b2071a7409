"""pc-publisher's domain: everything that runs in Azure except the trigger adapters."""
