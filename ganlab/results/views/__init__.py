"""The registered views, one module per area; every module here is imported by ``registry.load_views``."""
