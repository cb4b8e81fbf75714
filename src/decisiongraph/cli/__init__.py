"""Command-line interface (Typer + Rich): the edge of the layer stack."""
