"""Parsers: bytes of one standard command's output -> model types. No file or network access here."""  # noqa: E501
