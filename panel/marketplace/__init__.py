"""The panel's side of the marketplace: HTTP client, cached catalog, package signatures.

The panel reaches a store only over HTTP (`MARKETPLACE_URL`), never by importing hub code.
"""
