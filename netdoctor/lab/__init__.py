"""lab: a source that builds real networks and writes bundles.

Where it sits: beside ``netdoctor.sources`` (same layer). It builds Kubernetes-like pod
networks out of real kernel objects, one network namespace per node and per pod, probes them,
and writes what it built as a bundle that ``netdoctor diagnose`` reads like any other. It is
the integration test bed and the ground truth for the hop-by-hop trace.

Topology: namespace ``<prefix>u`` holds the underlay, bridge ``br0`` (10.6.131.0/24, with the
gateway 10.6.131.1 that routes nothing else) and ``br1`` (a second network, 10.6.130.0/24,
with no router). Node ``i`` is ``<prefix>n<i>`` with ``eth0`` = 10.6.131.(10+i) on br0; pod
``j`` of node ``i`` is ``<prefix>n<i>p<j>`` behind a veth. The prefix is ``ndl<4 hex>-``.

Layouts, as the CNIs build them:

- ``flannel-vxlan``: ``flannel.1`` (VNI 1, UDP 8472, nolearning, MTU 1450, 10.244.X.0/32); per
  peer a permanent neighbour ``10.244.X.0 lladdr <VtepMAC>``, FDB ``<VtepMAC> dst <public IP>``
  and route ``10.244.X.0/24 via 10.244.X.0 dev flannel.1 onlink``; pods on bridge ``cni0``
  (gateway 10.244.N.1, hairpin), pod routes ``default`` and ``10.244.0.0/16`` via it.
- ``flannel-host-gw``: ``10.244.X.0/24 via <peer node IP> dev eth0``; MTU 1500.
- ``calico-vxlan``: ``vxlan.calico`` (VNI 4096, UDP 4789, MTU 1450, tunnel address = first
  address of the node's /26 block); ``blackhole <block> proto 80``; per peer
  ``<block> via <tunnel IP> dev vxlan.calico proto 80 onlink`` plus the neighbour and FDB
  entries Felix writes; per pod a host veth ``cali<11 hex>`` (MAC ee:ee:ee:ee:ee:ee,
  proxy_arp=1, /32 route ``scope link``) and in the pod ``169.254.1.1 dev eth0 scope link``,
  ``default via 169.254.1.1 dev eth0``.
- ``calico-routed``: no encapsulation, ``<block> via <peer node IP> dev eth0 proto bird``.

This kernel has no ipip module: Calico IPIP's behaviour (peer routes via the peer's node
address, outer destination = that address) is covered by calico-routed + calico-vxlan.

Faults (combinable; "node 2" is ``node2``; pods are ``pod-n<i>-<j>``):

=====================  ==========================================  ==============================
fault                  what the kernel gets                        what breaks (measured)
=====================  ==========================================  ==============================
wrong-tunnel-address   node2 gets ``ib0`` 10.6.130.12 on br1 and   every pair between node2's
                       the CNI uses it: Calico's IPv4Address and   pods and other nodes' pods;
                       VXLAN ``local``/peers' FDB dst (vxlan);     same-node pairs still work.
                       flannel's public-ip, ``--iface=ib0``; for
                       routed layouts the peers get no route at
                       all (BGP to an address behind the gateway
                       never comes up; host-gw's route is refused)
duplicate-public-ip    (flannel-vxlan) every node has ``eth1``     every cross-node pair (the
                       10.0.2.15/24 with the default route via     outer packet is delivered to
                       10.0.2.2, flannel used it: ``local`` and    the sender itself); same-node
                       every FDB dst are 10.0.2.15                 pairs work
ip-forward-off         node2 ``net.ipv4.ip_forward=0`` (resets     flannel: node2's cross-node
                       every ``conf.*.forwarding``)                pairs; calico: every pair
                                                                   touching node2's pods (also
                                                                   same-node: calico routes)
forward-drop           node2 FORWARD policy DROP with Docker's     every pair touching node2's
                       chains, no CNI accept rules                 pods, same-node too (flannel's
                                                                   bridge: br_netfilter)
overlay-port-blocked   (vxlan) node2 ``INPUT -p udp --dport        every pair between node2 and
                       8472|4789 -j DROP``                         other nodes
mtu-too-large          (vxlan) pods, veths and cni0 MTU 1500 over  don't-fragment 1500-byte
                       a 1450 tunnel on a 1500 underlay            pings cross-node ("Frag
                                                                   needed"); small pings, TCP and
                                                                   same-node traffic work
missing-route          node1 lacks the route to node2's subnet     pairs between node1 and node2
                       (traffic takes the default route to a       (both directions: replies too)
                       gateway that knows no pod network)
policy-drop            on node2 a NetworkPolicy's chain (Felix     pod-n1-1 -> pod-n2-1 only;
                       ``cali-tw-<veth>``, kube-router for         replies of the reverse
                       flannel): ESTABLISHED accept, then DROP     direction pass (conntrack)
                       from pod-n1-1; the policy in the bundle
rp-filter-strict       node1 and node2 also on br1 (``eth1``);     pairs between node1 and node2
                       node2 routes back to node1 over eth1 (a     (node2 drops what node1 sends
                       host route or the BGP route) while node1    on eth0: IPReversePathFilter)
                       sends on eth0; node2 ``rp_filter=1``
=====================  ==========================================  ==============================
"""

from __future__ import annotations

from netdoctor.lab.errors import LabError, LabUsageError
from netdoctor.lab.plan import FaultName, LayoutName

__all__ = ["FaultName", "LabError", "LabUsageError", "LayoutName"]
