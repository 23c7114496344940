"""Kubernetes objects of the example clusters, as ``kubectl get <resource> -A -o json`` prints them.

Deterministic: uids are uuid5 of the object's path, suffixes and hashes are derived from names,
resourceVersions count up like etcd's revision (``cluster.RV``).
"""
