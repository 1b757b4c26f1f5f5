import { z } from 'zod';
import { Addons } from './addons.ts';
import { Cidr, DnsName, Duration, Hostname, Ip, KubeVersion, Version } from './primitives.ts';

/** The cluster as kubeadm sees it. */
export const Cluster = z.strictObject({
  /** Cluster name (kubeadm ClusterConfiguration.clusterName). */
  name: Hostname,
  /** Kubernetes release installed on every node, e.g. 1.33.2. */
  kubernetesVersion: KubeVersion,
  /** Pod network (kubeadm networking.podSubnet); must not overlap the LAN or the service network. @default "10.244.0.0/16" */
  podCidr: Cidr.default('10.244.0.0/16'),
  /** Service network (kubeadm networking.serviceSubnet). @default "10.96.0.0/12" */
  serviceCidr: Cidr.default('10.96.0.0/12'),
  /** Cluster DNS domain. @default "cluster.local" */
  dnsDomain: DnsName.default('cluster.local'),
  /** The address every node and client reaches the API servers at. */
  controlPlaneEndpoint: z.strictObject({
    /** Virtual IP held by one control-plane node at a time; on the nodes' LAN. */
    vip: Ip,
    /** Port clients use. With HAProxy on the control planes this is HAProxy's port (8443), since the API server holds 6443. @default 6443 */
    port: z.number().int().min(1).max(65535).default(6443),
    /** DNS name for the VIP, added to the API server certificate and /etc/hosts. */
    dnsName: DnsName.optional(),
    /** What holds the VIP: keepalived, keepalived with HAProxy balancing, or kube-vip. @default "keepalived" */
    provider: z.enum(['keepalived', 'keepalived+haproxy', 'kube-vip']).default('keepalived'),
    /** VRRP virtual_router_id, the same on all control planes and unique on the LAN. @default 51 */
    virtualRouterId: z.number().int().min(1).max(255).default(51),
  }),
  /** Pod network plugin. */
  cni: z.strictObject({
    /** Plugin. */
    plugin: z.enum(['cilium', 'calico']),
    /** Plugin release, e.g. 1.17.4; checked against the Kubernetes version. */
    version: Version.optional(),
    /** Cilium only: replace kube-proxy (required for Cilium's Gateway API). @default false */
    kubeProxyReplacement: z.boolean().default(false),
  }),
  /** Container runtime. */
  runtime: z.strictObject({
    /** Runtime: containerd or cri-o. "docker" is refused: Kubernetes removed dockershim in 1.24. @default "containerd" */
    name: z.enum(['containerd', 'cri-o', 'docker']).default('containerd'),
    /** Runtime release line, e.g. 2.1; checked against the Kubernetes version. */
    version: Version.optional(),
    /**
     * Where containerd comes from: "docker" (Docker's apt repository, the package containerd.io at
     * the release line `version` names, as seed 000 installs it) or "distro" (the base's own
     * archive's containerd package, at whatever version that release carries). @default "docker"
     */
    source: z.enum(['docker', 'distro']).default('docker'),
  }).prefault({}),
  /**
   * Mirrors for what the nodes download at first boot, for a LAN mirror or an air-gapped site.
   * Each serves the same signed repository as the original (the pinned signing keys still apply).
   * @default {}
   */
  mirrors: z.strictObject({
    /** Replaces https://pkgs.k8s.io: the repository is <kubernetes>/core:/stable:/v1.35/deb/. */
    kubernetes: z.url({ protocol: /^https?$/ }).optional(),
    /** Replaces https://download.docker.com/linux/ubuntu (containerd.io). */
    containerd: z.url({ protocol: /^https?$/ }).optional(),
    /**
     * A server holding the release files nodes download (etcd, the Cilium CLI, Helm, Gateway API
     * CRDs, Helm charts) under their original host and path: https://github.com/x becomes
     * <downloads>/github.com/x. The pinned SHA-256 of each file still applies.
     */
    downloads: z.url({ protocol: /^https?$/ }).optional(),
    /** Registry kubeadm pulls the control-plane images from instead of registry.k8s.io (ClusterConfiguration.imageRepository). */
    images: z.string().regex(/^[a-z0-9.-]+(:\d+)?(\/[a-z0-9._-]+)*$/, 'must be a registry host with an optional port and path, e.g. registry.lan:5000/k8s').optional(),
  }).prefault({}),
  /**
   * Nodes assemble the cluster at first boot: install the pinned packages, hold the VIP, run
   * kubeadm init on the leader and join the others. false: nodes are prepared (kernel, swap,
   * layout) and nothing is installed, for a cluster made by hand. @default true
   */
  selfAssembly: z.boolean().default(true),
  /** etcd topology. */
  etcd: z.strictObject({
    /** "stacked": a member on each control plane (and workers with etcd: true); "external": on nodes with role "etcd". @default "stacked" */
    topology: z.enum(['stacked', 'external']).default('stacked'),
    /**
     * Where the external etcd nodes' etcd comes from: "release" (etcd-io's release at the version
     * data/packages.yaml pins, checked against its SHA-256) or "distro" (the base archive's
     * etcd-server package). @default "release"
     */
    source: z.enum(['release', 'distro']).default('release'),
  }).prefault({}),
  /**
   * Key algorithm of the cluster's certificate authorities and of the certificates imgforge issues
   * (kubeadm ClusterConfiguration.encryptionAlgorithm). ECDSA keys are made in milliseconds, RSA
   * keys in about 0.2 s each. @default "RSA-2048"
   */
  encryptionAlgorithm: z.enum(['RSA-2048', 'RSA-3072', 'RSA-4096', 'ECDSA-P256']).default('RSA-2048'),
  /**
   * How long the bootstrap token imgforge makes lets nodes join, from `imgforge secrets init` or
   * `imgforge secrets rotate-token`: every node must first boot within it (a node flashed later
   * needs `rotate-token` and a new image). kubeadm's own default is 24h. @default "168h"
   */
  bootstrapTokenTtl: Duration.prefault('168h'),
  /**
   * The control plane that runs `kubeadm init`, once; every other node joins the cluster it makes.
   * Default: the first control plane in the order of `nodes`. @default the first control plane
   */
  leader: Hostname.optional(),
  /** Control-plane nodes also run workloads (their NoSchedule taint is removed). @default false */
  schedulableControlPlanes: z.boolean().default(false),
  /** Add-ons installed once the cluster is up. @default {} */
  addons: Addons.prefault({}),
});


