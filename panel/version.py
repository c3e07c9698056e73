"""The panel core's own version: modules state `requires_core` against it."""

CORE_VERSION = "1.0.0"
