"""Jinja2 templates per step, channel and locale, formatted with Babel."""
