"""quanzi.api."""
