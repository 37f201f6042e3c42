"""Fixtures shared by every test folder; helper modules in ``tests/`` are importable."""

pytest_plugins = [
    "smtp_server", "stripe_server", "postgres_server", "storage_fixtures", "app_fixtures",
    "web_fixtures", "http_server", "browser_fixtures", "s3_server", "cluster", "pytester",
]
