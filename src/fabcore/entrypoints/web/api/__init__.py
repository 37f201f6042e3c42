"""The JSON API, by area: accounts, shop, models, orders."""
