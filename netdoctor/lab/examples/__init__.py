"""The example bundles under examples/ (built by scripts/make-examples, as root).

Node facts are REAL command output: for every node of every example this package builds a network
namespace (``ndex-*``) with the node's interfaces, addresses, MTUs, routes, neighbour and FDB
entries, sysctls, ipsets and iptables rules, installed with the ordinary ``ip``/``bridge``/
``sysctl``/``ipset``/``iptables`` commands, then captures ``ip -j -d addr show``, ``ip -j route
show table all``, ``ip -j rule show``, ``ip -j neigh show``, ``bridge -j fdb show``, ``sysctl -a``
and ``iptables-save`` exactly as a collector would. Namespaces are always deleted at the end,
also on error.

What the build kernel cannot create is emulated and then patched in the captured JSON, and only
there (each patch is listed in examples/README.md):

* this kernel has no ``dummy``, ``ipip`` or InfiniBand drivers. Physical NICs (eno1, enp0s3, ...)
  are veth devices whose peer sits in a ``ndex-wire`` namespace; after capture their entry loses
  the veth ``linkinfo``/``link_netnsid`` and gains ``parentbus``/``parentdev`` like a PCI NIC.
* ``tunl0`` (Calico IPIP) is a veth stand-in; its entry is rewritten to what ``ip -j -d`` prints
  for the ipip fallback device: ``link_type: ipip``, ``address 0.0.0.0``, flags NOARP,
  ``linkinfo.info_kind: ipip`` with ``info_data {"proto":"ipip","remote":"any","local":"any",
  "ttl":0,"pmtudisc":true}``, mtu 1480 (the MTU itself is set for real).
* ``ibs845f0`` (IPoIB) is a veth stand-in rewritten to ``link_type: infiniband`` with a 20-byte
  hardware address, the IPoIB broadcast address, ``info_kind: ipoib`` and a GUID-derived
  link-local address; its mtu 2044 is set for real.
* ``sysctl -a``: volatile counters (dentry/inode state, ns_last_pid, random uuid/boot_id) are
  dropped; a key that does not exist in a network namespace is appended (and named in README).
* ``iptables-save`` header/footer dates are replaced by the bundle's collection time.

Kubernetes JSON, logs, probes and bundle.yaml are written from each example's plan
(examples/plans/<name>.yaml and <name>.bundle.yaml) and the Python data in this package, and are
deterministic (fixed uids, timestamps in Feb 2026, fixed MACs set with ``ip link set address``).
"""

from __future__ import annotations

from netdoctor.lab.errors import LabUsageError
from netdoctor.lab.examples.calico import calico_cluster
from netdoctor.lab.examples.flannel import flannel_cluster
from netdoctor.lab.examples.plan import ExamplePlan
from netdoctor.lab.objects.cluster import Cluster

__all__ = ["build_cluster"]


def build_cluster(plan: ExamplePlan) -> Cluster:
    """The example's Kubernetes objects, logs, probes and node networks, by its CNI."""
    if plan.cni == "calico":
        return calico_cluster(plan)
    if plan.cni == "flannel":
        return flannel_cluster(plan)
    raise LabUsageError(f"{plan.name}: no builder for cni {plan.cni!r}")
