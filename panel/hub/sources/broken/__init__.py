"""A module that fails to import, on purpose."""

raise RuntimeError("this module is broken on purpose")
