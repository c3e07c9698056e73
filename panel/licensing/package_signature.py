"""Package signatures: the message the store signs for a package, and how the signature is written.

Current format (written by the embedded store):

    "ed25519-sha256:" base64(Ed25519 signature of PURPOSE + sha256(package), the 32 raw bytes)

Signing the digest, not the bytes, lets the panel check a package while it downloads it: the
digest is computed from the stream, so the package is never read back from disk for its
signature (Ed25519 cannot sign or verify a stream). The catalog's `signature` field and the
download's `X-Package-Signature` header carry this text.

Legacy format (a store older than this one): bare base64 of an Ed25519 signature over the whole
package. Still accepted; checking it costs one more read of the package.

No signed message can pass for another: this PURPOSE is not the license token's
(`token.PURPOSE`), and a legacy message is a zip, which starts with b"PK".
"""

import base64
import binascii

PURPOSE = b"module-panel package-sha256 v1\n"
PREFIX = "ed25519-sha256:"
DIGEST = "digest"  # the signature covers PURPOSE + sha256 digest
WHOLE = "whole"  # legacy: the signature covers the package's bytes


def message(sha256_hex: str) -> bytes:
    """What is signed for a package whose sha256 is `sha256_hex`; ValueError when it is not a digest."""
    raw = bytes.fromhex(sha256_hex)
    if len(raw) != 32:
        raise ValueError("not a sha256 digest")
    return PURPOSE + raw


def sign(private_key, sha256_hex: str) -> str:
    """The signature text of a package (current format), from its sha256 digest."""
    return PREFIX + base64.b64encode(private_key.sign(message(sha256_hex))).decode()


def parse(text: str) -> tuple[str, bytes]:
    """(DIGEST or WHOLE, the raw signature); ValueError when the text is not base64."""
    kind, encoded = (DIGEST, text[len(PREFIX):]) if text.startswith(PREFIX) else (WHOLE, text)
    try:
        return kind, base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("the signature is not base64") from None
