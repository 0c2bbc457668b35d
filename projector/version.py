"""The projection logic's version: bump it with any change to what the machine produces, and the
projector service rebuilds the tables from the journal by itself."""

PROJECTOR_VERSION = 8
