"""The wallet runtime."""
