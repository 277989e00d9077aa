"""Scaling arguments for feature learning (Rubin, Davidovich & Ringel, arXiv:2512.04165)."""
