"""Module runtime: import module code, give it the facade, route `/m/<slug>/` to it."""
