"""Calico root causes (NET-3xx), one module per topic: the node address calico-node picked
(``address``), BGP sessions (``bgp``), IP pools' encapsulation (``pools``) and the Calico
release against Kubernetes (``release``).

Checks layer: pure functions over the Snapshot. ``_common`` holds what the topics share.
Importing this package registers nothing: ``load_checks()`` imports each topic module.
"""
