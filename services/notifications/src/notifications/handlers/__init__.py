"""One function per command or event; the worker, callbacks and intake live here."""
