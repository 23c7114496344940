"""The model layer: typed data that flows from sources to checks to the report."""
