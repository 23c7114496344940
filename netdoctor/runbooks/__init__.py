"""Runbooks: teams' troubleshooting workflows as executable, tested files.

Runbooks layer, between the report (which renders a run) and the engine (whose checks the
steps run). ``loader`` reads the Markdown files, ``router`` picks one for a symptom,
``execute`` walks its steps over a Snapshot, ``lint`` proves a folder sound. The shipped
runbooks are in ``library/``; the format is documented in ``docs/runbooks.md``.
"""
