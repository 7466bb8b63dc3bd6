"""Operator tools runnable with ``python -m knowledgebeast.tools.<name>``, no configuration needed."""
