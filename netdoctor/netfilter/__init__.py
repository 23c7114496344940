"""Firewall evaluation: which verdict a node's rules give one packet.

Sits between the checks and the sources: checks (NET-102 FORWARD policy, NET-203 overlay port) and
the trace both evaluate rules here, over the model's rulesets; nothing here reads files.
"""

from netdoctor.netfilter.iptables import Decision, Packet, evaluate

__all__ = ["Decision", "Packet", "evaluate"]
