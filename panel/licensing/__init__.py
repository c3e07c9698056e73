"""License keys, coupon codes and license tokens: shared by the panel and the store.

Nothing here imports panel or hub code (but the foundation's `lazy_module`, which defers
`cryptography` to the first signature made or checked), so the panel uses it without the store, and
a store of its own (not the embedded hub) can reuse it:

- `keys`: `PANEL-XXXXX-XXXXX-XXXXX-XXXXX` keys and `PANELUPD-XXXXX-XXXXX-XXXXX` coupons, checked offline.
- `token`: the store-signed license token, its verification and the entitlement it grants.
- `package_signature`: what the store signs for a package (its sha256 digest) and the signature's text.
"""
