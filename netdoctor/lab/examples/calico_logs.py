"""calico-node and calico-kube-controllers logs and the CNI config calico-node installs."""

from __future__ import annotations

from netdoctor.lab.objects.configs import CALICO_CNI_TEMPLATE

__all__ = ["CALICO_VER", "calico_conflist", "calico_node_log", "kube_controllers_log"]

CALICO_VER = "v3.26.1"


def calico_conflist(node: str) -> str:
    return (
        CALICO_CNI_TEMPLATE.replace("__KUBERNETES_NODE_NAME__", node)
        .replace("__CNI_MTU__", "1480")
        .replace("__KUBECONFIG_FILEPATH__", "/etc/cni/net.d/calico-kubeconfig")
    )


def calico_node_log(
    node: str, addr: str, iface: str, tunnel: str, block: str, peers: list[str], first: bool
) -> str:
    t = "2026-02-14 08:12:0"
    lines = [
        f"{t}1.402 [INFO][9] startup/startup.go 427: Early log level set to info",
        f"{t}1.402 [INFO][9] startup/utils.go 127: Using NODENAME environment for node name {node}",
        f"{t}1.402 [INFO][9] startup/utils.go 139: Determined node name: {node}",
        f"{t}1.403 [INFO][9] startup/startup.go 106: Starting node {node} with version "
        f"{CALICO_VER}",
        f"{t}1.405 [INFO][9] startup/startup.go 432: Checking datastore connection",
        f"{t}1.421 [INFO][9] startup/startup.go 456: Datastore connection verified",
        f"{t}1.421 [INFO][9] startup/startup.go 116: Datastore is ready",
        f"{t}1.448 [INFO][9] startup/startup.go 485: Initialize BGP data",
        f"{t}1.449 [INFO][9] startup/autodetection_methods.go 103: Using autodetected IPv4 "
        f"address on interface {iface}: {addr}/24",
        f"{t}1.449 [INFO][9] startup/startup.go 561: Node IPv4 changed, will check for conflicts",
        f"{t}1.457 [INFO][9] startup/startup.go 796: No AS number configured on node "
        "resource, using global value",
        f"{t}1.469 [INFO][9] startup/utils.go 191: Setting NetworkUnavailable to false",
        f"{t}1.493 [INFO][9] startup/startup.go 655: CALICO_IPV4POOL_NAT_OUTGOING is true "
        "(defaulted) through environment variable",
        f"{t}1.493 [INFO][9] startup/startup.go 996: Ensure default IPv4 pool is created. "
        "IPIP mode: Always, VXLAN mode: Never, DisableBGPExport: false",
        f"{t}1.501 [INFO][9] startup/startup.go 1006: Created default IPv4 pool (10.30.0.0/16) "
        "with NAT outgoing true. IPIP mode: Always, VXLAN mode: Never, DisableBGPExport: false"
        if first
        else f"{t}1.501 [INFO][9] startup/startup.go 1000: Pool already exists cidr=10.30.0.0/16",
        f"{t}1.501 [INFO][9] startup/startup.go 730: FELIX_IPV6SUPPORT is false through "
        "environment variable",
        f"{t}1.512 [INFO][9] startup/startup.go 216: Using node name: {node}",
        f"{t}1.513 [INFO][9] startup/utils.go 79: removed shutdown timestamp "
        'timestamp="2026-02-14T08:10:44Z"',
        f"{t}1.598 [INFO][17] tunnel-ip-allocator/allocateip.go 313: Current address is "
        f'still valid, do nothing currentAddr="{tunnel}" type="ipipTunnelAddress"',
        "Calico node started successfully",
        "bird: Unable to open configuration file /etc/calico/confd/config/bird.cfg: "
        "No such file or directory",
        "bird: Unable to open configuration file /etc/calico/confd/config/bird6.cfg: "
        "No such file or directory",
        f"{t}2.714 [INFO][56] felix/daemon.go 380: Successfully loaded configuration. "
        f'GOMAXPROCS=64 builddate="2023-06-20T19:02:41+0000" config=&config.Config{{...}} '
        f'gitcommit="b1d192c95" version="{CALICO_VER}"',
        f"{t}2.731 [INFO][57] confd/config.go 66: Found FELIX_TYPHAK8SSERVICENAME=none",
        f"{t}3.012 [INFO][57] confd/resource.go 277: Target config "
        "/etc/calico/confd/config/bird.cfg has been updated due to change in key: "
        "/calico/bgp/v1/host",
        "bird: device1: Initializing",
        "bird: direct1: Initializing",
        f"{t}3.389 [INFO][56] felix/int_dataplane.go 1067: IPIP enabled, starting thread to "
        "keep tunnel configuration in sync.",
        f"{t}3.392 [INFO][56] felix/ipip_mgr.go 85: IPIP thread started.",
        f"{t}3.402 [INFO][56] felix/ipip_mgr.go 223: Setting local IPv4 address on link. "
        f'addr={tunnel} link="tunl0"',
        f"{t}4.115 [INFO][56] felix/route_table.go 1220: Syncing routes: adding new route. "
        f'ifaceName="*NoOIF*" ifaceRegex="^blackhole.*" ipVersion=0x4 '
        f'routeProblems=[]string{{"unexpected route"}} tableIndex=254 '
        f"targetCIDR={block}",
    ]
    for peer in peers:
        pid = peer.replace(".", "_")
        lines.append(f"bird: Mesh_{pid}: Starting")
        lines.append(f"bird: Mesh_{pid}: State changed to start")
    for peer in peers:
        lines.append(f"bird: Mesh_{peer.replace('.', '_')}: State changed to feed")
        lines.append(f"bird: Mesh_{peer.replace('.', '_')}: State changed to up")
    lines.append(
        f"{t}9.004 [INFO][56] felix/health.go 336: Overall health status changed: "
        "live=true ready=true"
    )
    for minute in range(13, 30, 4):
        lines.append(
            f"2026-02-14 08:{minute}:01.455 [INFO][48] monitor-addresses/"
            f"autodetection_methods.go 103: Using autodetected IPv4 address on interface "
            f"{iface}: {addr}/24"
        )
        lines.append(
            f"2026-02-14 08:{minute}:31.881 [INFO][56] felix/summary.go 100: Summarising 11 "
            "dataplane reconciliation loops over 1m1.6s: avg=4ms longest=18ms ()"
        )
    return "\n".join(lines) + "\n"


def kube_controllers_log() -> str:
    t = "2026-02-14 08:12:2"
    return (
        "\n".join(
            [
                f"{t}0.511 [INFO][1] main.go 107: Loaded configuration from environment "
                'config=&config.Config{LogLevel:"info", WorkloadEndpointWorkers:1, '
                'ProfileWorkers:1, PolicyWorkers:1, NodeWorkers:1, Kubeconfig:"", '
                'DatastoreType:"kubernetes"}',
                f"{t}0.513 [INFO][1] win_utils.go 69: Neither --kubeconfig nor --master was "
                "specified.  Using the inClusterConfig.  This might not work.",
                f"{t}0.514 [INFO][1] main.go 131: Ensuring Calico datastore is initialized",
                f"{t}0.527 [INFO][1] main.go 157: Calico datastore is initialized",
                f"{t}0.528 [INFO][1] main.go 194: Getting initial config snapshot from datastore",
                f"{t}0.547 [INFO][1] main.go 197: Got initial config snapshot",
                f"{t}0.548 [INFO][1] watchersyncer.go 89: Start called",
                f"{t}0.548 [INFO][1] main.go 211: Starting status report routine",
                f"{t}0.548 [INFO][1] main.go 220: Starting Prometheus metrics server on port 9094",
                f'{t}0.548 [INFO][1] main.go 503: Starting controller ControllerType="Node"',
                f"{t}0.548 [INFO][1] controller.go 193: Starting Node controller",
                f"{t}0.649 [INFO][1] ipam.go 275: Will run periodic IPAM sync every 7m30s",
                f"{t}0.649 [INFO][1] controller.go 207: Node controller is now running",
                f"{t}0.651 [INFO][1] ipam.go 331: Syncer is InSync, kicking sync channel "
                "status=in-sync",
            ]
        )
        + "\n"
    )
