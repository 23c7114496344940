"""Kube-OVN root causes (NET-5xx), one module per topic: ovn-controller on each node
(``chassis``), ovn-trace verdicts (``ovn_trace``) and the Geneve encap IPs (``encap``).

Checks layer: pure functions over the Snapshot. The data: each node's ``ovs-vsctl show``
(``NetFacts.ovs_show``: br-int and its Geneve tunnel ports, one per peer chassis, whose
``remote_ip`` is that peer's encap IP), ``ovn-trace`` outputs (``NetFacts.ovn_traces``),
kube-ovn-cni's log line ``set ovn-encap-ip=A, ovn-encap-ip-default=A`` (or the older
``use A on IF as tunnel address``), the pods' ``ovn.kubernetes.io/*`` annotations and the
``ips.kubeovn.io`` objects. ``_common`` holds what the topics share. Importing this package
registers nothing: ``load_checks()`` imports each topic module.
"""
