"""Overlay and CNI-generic root causes (NET-201, NET-204..NET-209): what the CNI agents program
on every node (configs, routes, VXLAN forwarding entries, MTUs) and the address plan behind it.

Checks layer: pure functions over the Snapshot. Each check compares what a node holds with what
its peers announce (node annotations, ``spec.podCIDR``, Calico's blocks as the owner's
blackhole route) and reports only what the data proves: a missing fact is a Skip or a Note.

One module per topic, each with its catalog file of the same name (``rootcauses/overlay/``):
``cniconf`` (NET-201), ``routes`` (NET-204), ``vxlan`` (NET-205), ``mtu`` (NET-206) and
``addressing`` (NET-207..NET-209); ``_common`` holds what several of them read.
"""
