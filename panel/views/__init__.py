"""The panel's pages, one blueprint per resource; `create_app` registers each by name (`views.<module>.bp`).

A new page: a module here defining `bp`, imported below, and one `app.register_blueprint` line in
panel/__init__.py.
"""

from . import (assets, auth, converters, dashboard, error_pages, jobs, license, marketplace, module_pages, modules, settings, sidebar,
               upload)

__all__ = ["assets", "auth", "converters", "dashboard", "error_pages", "jobs", "license", "marketplace", "module_pages", "modules",
           "settings", "sidebar", "upload"]
