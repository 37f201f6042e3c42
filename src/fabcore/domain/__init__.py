"""The pure core: entities, money, pricing, the status machine. No I/O here."""
