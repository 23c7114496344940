"""Service path root causes (NET-8xx), one module per topic: the Service's selector,
EndpointSlices and targetPort (``endpoints``), kube-proxy on the client's node (``proxy``) and
the cluster DNS (``dns``).

Checks layer: pure functions over the Snapshot. For a question whose target is a Service (given
as ``svc/NS/NAME``, a ClusterIP or a DNS name) the Service checks look at that Service only; a
question about a pod or a node leaves them out; without a question they look at every Service.
The engine ranks these findings in the order a connection meets them (DNS, the Service, its
selector, its endpoints, its targetPort, kube-proxy on the client's node). ``_common`` holds
what the topics share. Importing this package registers nothing: ``load_checks()`` imports
each topic module.
"""
