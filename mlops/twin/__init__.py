"""The offline twin: the synthesized templates, run on moto plus real local code where moto stops."""
