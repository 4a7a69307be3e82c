"""Visualisation: plots for reports and the interactive browser app."""
