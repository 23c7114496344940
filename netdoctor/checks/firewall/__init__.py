"""Node firewalls: the FORWARD chain against pod traffic (NET-102) and the INPUT chain against
the overlay's own packets (NET-203).

Checks layer. Both checks build the packets the cluster really sends (a pod on one node to a
pod on another; VXLAN/IPIP/BGP/Geneve/WireGuard from each peer node's address) and ask the
iptables evaluator (``netdoctor.netfilter``) for the kernel's verdict, jumps included. Only a
certain drop is a finding; a match the evaluator cannot decide (an ipset whose contents the
bundle does not hold) is left alone, never guessed.

``forward`` (NET-102) and ``overlay_port`` (NET-203), each with its catalog file of the same
name (``rootcauses/firewall/``); ``_common`` holds the verdict on one packet and what both
(and ``checks/node.py``) read.
"""
