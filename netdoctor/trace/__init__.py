"""trace: follow one packet and its reply over the node facts (analysis layer, beside checks)."""
