"""iptables and ipset rule sets as kubelet, kube-proxy, Felix and flanneld install them.

Each module returns the rules as argument lists (``iptables -t <table> -A ...`` or ``ipset ...``)
for a builder to run in a node's network namespace; nothing here runs a command.
"""
