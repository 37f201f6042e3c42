"""Interfaces (``typing.Protocol``) the core needs from the outside world."""
