"""Driving adapters: the command line, the demo and (soon) the web front."""
