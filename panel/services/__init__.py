"""Business logic. Services take plain values (never `request`) and return models or data."""
