"""What the checks share but is not a check: the registry, CNI detection, endpoint resolution,
evidence helpers, the odd-one-out comparison, and the Kube-OVN trace commands.

Checks layer. Nothing here registers a check; ``netdoctor.checks``' family modules do.
"""
