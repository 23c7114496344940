"""The CNIs' own names for their facts: node and pod annotations, defined once.

Model layer. Checks, the trace, the netfilter helpers and the lab (which writes these
annotations the way the CNIs do) all read them from here, so a rename upstream is one edit.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "CALICO_ADDRESS",
    "CALICO_IPIP_ADDR",
    "CALICO_VXLAN_ADDR",
    "FLANNEL_BACKEND_DATA",
    "FLANNEL_BACKEND_TYPE",
    "FLANNEL_KSM",
    "FLANNEL_PUBLIC_IP",
    "FLANNEL_PUBLIC_IP_OVERWRITE",
    "KUBEOVN",
    "KUBEOVN_IP_ADDRESS",
    "KUBEOVN_LOGICAL_SWITCH",
    "KUBEOVN_MAC_ADDRESS",
    "KUBEOVN_PORT_NAME",
    "KUBEOVN_TUNNEL_IFACE",
]

# Calico: calico-node writes these on its Node (the address it advertises to its peers, with
# its prefix length, and the tunnel device's own address).
CALICO_ADDRESS: Final = "projectcalico.org/IPv4Address"
CALICO_VXLAN_ADDR: Final = "projectcalico.org/IPv4VXLANTunnelAddr"
CALICO_IPIP_ADDR: Final = "projectcalico.org/IPv4IPIPTunnelAddr"

# Flannel (kube-subnet-mgr): flanneld writes these on its Node.
FLANNEL_PUBLIC_IP: Final = "flannel.alpha.coreos.com/public-ip"
FLANNEL_PUBLIC_IP_OVERWRITE: Final = "flannel.alpha.coreos.com/public-ip-overwrite"
FLANNEL_BACKEND_TYPE: Final = "flannel.alpha.coreos.com/backend-type"
FLANNEL_BACKEND_DATA: Final = "flannel.alpha.coreos.com/backend-data"
FLANNEL_KSM: Final = "flannel.alpha.coreos.com/kube-subnet-manager"

# Kube-OVN: the prefix of its pod and node annotations, and the ones read by name.
KUBEOVN: Final = "ovn.kubernetes.io/"
KUBEOVN_IP_ADDRESS: Final = KUBEOVN + "ip_address"
KUBEOVN_PORT_NAME: Final = KUBEOVN + "port_name"
KUBEOVN_MAC_ADDRESS: Final = KUBEOVN + "mac_address"
KUBEOVN_LOGICAL_SWITCH: Final = KUBEOVN + "logical_switch"
KUBEOVN_TUNNEL_IFACE: Final = KUBEOVN + "tunnel_interface"
