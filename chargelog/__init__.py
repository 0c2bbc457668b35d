"""chargelog: the command layer that drives the journal, projector and web app."""

__version__ = "0.1.0"
