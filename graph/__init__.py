"""quanzi.graph."""
