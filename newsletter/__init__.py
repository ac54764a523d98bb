"""Trending papers in your inbox: a self-hosted weekly digest of research papers."""
