"""The contract's routes, one module per area; each exports ``OPERATIONS``."""
