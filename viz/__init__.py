"""quanzi.viz."""
