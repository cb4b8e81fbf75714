"""Pure domain core: envelopes, event types, validation, canonical JSON and hashing.

Nothing here does I/O or imports the storage, projection, service or delivery layers.
"""
