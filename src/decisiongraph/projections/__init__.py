"""Projection layer: graph, summaries, precedent index, digests, and the projector."""
