"""What an operator sees of a run where operators look: flat log dimensions, one trace per run,
metrics. Everything here is a no-op until `setup.configure` installs exporters (in Azure, or
with an OTLP endpoint), so stages call it unconditionally and pay nothing locally."""
