import { z } from 'zod';
import { AddressRange, Ip, Version } from './primitives.ts';

/** A MetalLB IPAddressPool (metallb.io/v1beta1) and how it is announced. */
const MetalLbPool = z.strictObject({
  /** Pool name (metadata.name). */
  name: z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'must be a Kubernetes object name'),
  /** Addresses handed to LoadBalancer Services: CIDRs or "a-b" ranges. */
  addresses: z.array(AddressRange).min(1),
  /** "l2": answer ARP/NDP on the LAN; "bgp": announce to the BGP peers. @default "l2" */
  mode: z.enum(['l2', 'bgp']).default('l2'),
});

/** A BGP router MetalLB peers with (metallb.io/v1beta2 BGPPeer). */
const BgpPeer = z.strictObject({
  /** Router address. */
  address: Ip,
  /** Router's AS number. */
  asn: z.number().int().min(1).max(4294967294),
  /** The cluster's AS number. */
  myAsn: z.number().int().min(1).max(4294967294),
});

/** Cluster add-ons installed after the control plane is up (by the first-boot assembly). */
export const Addons = z.strictObject({
  /** Gateway API CRDs (gateway.networking.k8s.io); with Cilium also its Gateway controller. */
  gatewayApi: z.strictObject({
    /** CRD release, e.g. 1.2.1. */
    version: Version,
    /** "standard" or "experimental" CRD channel. @default "standard" */
    channel: z.enum(['standard', 'experimental']).default('standard'),
  }).optional(),
  /** MetalLB load balancer for bare metal. */
  metallb: z.strictObject({
    /** MetalLB release, e.g. 0.14.9. */
    version: Version.optional(),
    /** Address pools. */
    pools: z.array(MetalLbPool).min(1),
    /** BGP routers, required when a pool uses mode "bgp". @default [] */
    bgpPeers: z.array(BgpPeer).default([]),
  }).optional(),
  /** ingress-nginx controller. */
  ingressNginx: z.strictObject({
    /** Chart or release version. */
    version: Version.optional(),
  }).optional(),
  /** Rook-Ceph on the raw partitions named here. */
  rookCeph: z.strictObject({
    /** Rook release, e.g. 1.16.5. */
    version: Version.optional(),
    /** Partition label (a layout reserved entry) the OSDs use on every node that has it. @default "ceph" */
    partition: z.string().default('ceph'),
    /** Replicas per block pool (CephBlockPool replicated.size). @default 2 */
    replicas: z.number().int().min(1).max(7).default(2),
  }).optional(),
  /** Longhorn on the ext4 partitions named here. */
  longhorn: z.strictObject({
    /** Longhorn release, e.g. 1.8.1. */
    version: Version.optional(),
    /** Partition label (a layout reserved entry, ext4) mounted as Longhorn's data path. @default "longhorn" */
    partition: z.string().default('longhorn'),
    /** Default replica count. @default 2 */
    replicas: z.number().int().min(1).max(7).default(2),
  }).optional(),
  /** NFS subdir external provisioner, for an existing NFS export. */
  nfsProvisioner: z.strictObject({
    /** NFS server address or name. */
    server: z.string().min(1),
    /** Exported path. */
    path: z.string().regex(/^\//, 'must be an absolute path'),
    /** StorageClass name. @default "nfs-client" */
    storageClass: z.string().default('nfs-client'),
  }).optional(),
});
