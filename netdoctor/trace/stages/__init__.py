"""The trace's stages, one module per leg of the packet's path (plain functions over a ``Walk``).

``pod``: the sending pod's route, its interface and the veth or bridge to the node; ``node``: a
node's lookup, forwarding, rp_filter, filter chains and egress (the hub every leg passes
through); ``encap``: VXLAN / IP-in-IP encapsulation and decapsulation; ``underlay``: the outer
packet's next hop between nodes; ``delivery``: into the destination pod and its port. A stage
that hands the packet on to another node or device returns where it goes, and the node stage
continues the walk there, so the imports run one way (pod -> node -> encap, underlay, delivery).
"""
