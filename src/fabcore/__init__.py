"""fabcore: open core for instant quoting and order management in manufacturing."""

__version__ = "0.1.0"
