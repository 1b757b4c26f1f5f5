/**
 * The kubeadm, kubelet and kube-proxy configuration documents imgforge renders, as zod models of
 * the fields it sets. Field names and meanings are upstream's: kubeadm.k8s.io/v1beta4
 * (cmd/kubeadm/app/apis/kubeadm/v1beta4/types.go, kubeadm >= 1.31), kubelet.config.k8s.io/v1beta1
 * (k8s.io/kubelet config/v1beta1) and kubeproxy.config.k8s.io/v1alpha1 (k8s.io/kube-proxy
 * config/v1alpha1). Every object is strict, so a misspelt field fails the render as it would fail
 * `kubeadm config validate`; the tests also check each document against upstream's full field lists.
 */
import { z } from 'zod';

const Cidr = z.string().regex(/^[0-9a-f.:]+\/\d{1,3}$/);
/** kubeadm v1beta4 Arg: flags as a list, so a flag may repeat. */
const Arg = z.strictObject({ name: z.string().min(1), value: z.string() });

/** core/v1 Taint. */
const Taint = z.strictObject({ key: z.string().min(1), value: z.string().optional(), effect: z.enum(['NoSchedule', 'PreferNoSchedule', 'NoExecute']) });

const NodeRegistration = z.strictObject({
  /** The Node object's name and the CN of the kubelet's client certificate. */
  name: z.string().min(1),
  /** The CRI endpoint kubeadm and the kubelet use. */
  criSocket: z.string().regex(/^unix:\/\/\//),
  /** Registered taints; [] means none, also on a control plane (kubeadm adds its own only when the field is absent). */
  taints: z.array(Taint),
  /** kubelet flags, written to /var/lib/kubelet/kubeadm-flags.env: node-ip so a multi-homed board registers its LAN address. */
  kubeletExtraArgs: z.array(Arg).optional(),
});

const ApiEndpoint = z.strictObject({ advertiseAddress: z.string().optional(), bindPort: z.number().int().min(1).max(65535) });

/** A bootstrap token kubeadm init creates (bootstraptoken/v1 BootstrapToken). */
const BootstrapToken = z.strictObject({
  token: z.string().regex(/^[a-z0-9]{6}\.[a-z0-9]{16}$/),
  description: z.string(),
  /** Absolute expiry (RFC 3339), so it does not depend on the init node's clock as ttl would. */
  expires: z.iso.datetime(),
  usages: z.array(z.enum(['signing', 'authentication'])),
  groups: z.array(z.string().regex(/^system:bootstrappers:[a-z0-9:-]{0,255}[a-z0-9]$/)),
});

export const InitConfiguration = z.strictObject({
  apiVersion: z.literal('kubeadm.k8s.io/v1beta4'),
  kind: z.literal('InitConfiguration'),
  bootstrapTokens: z.array(BootstrapToken).min(1),
  nodeRegistration: NodeRegistration,
  localAPIEndpoint: ApiEndpoint,
});
export type InitConfiguration = z.output<typeof InitConfiguration>;

const ExternalEtcd = z.strictObject({
  endpoints: z.array(z.string().regex(/^https:\/\//)).min(1),
  caFile: z.string(), certFile: z.string(), keyFile: z.string(),
});

export const ClusterConfiguration = z.strictObject({
  apiVersion: z.literal('kubeadm.k8s.io/v1beta4'),
  kind: z.literal('ClusterConfiguration'),
  clusterName: z.string().min(1),
  kubernetesVersion: z.string().regex(/^v\d+\.\d+\.\d+$/),
  /** The VIP or its DNS name with the port clients use (HAProxy's when it balances on the control planes). */
  controlPlaneEndpoint: z.string().min(1),
  /** Where kubeadm pulls the control-plane images from: a mirror when the config names one. */
  imageRepository: z.string().min(1).optional(),
  networking: z.strictObject({ podSubnet: Cidr, serviceSubnet: Cidr, dnsDomain: z.string().min(1) }),
  apiServer: z.strictObject({ certSANs: z.array(z.string().min(1)) }),
  etcd: z.union([
    z.strictObject({ local: z.strictObject({ dataDir: z.string().min(1) }) }),
    z.strictObject({ external: ExternalEtcd }),
  ]),
  /** Skip kube-proxy when the CNI replaces it (Cilium kubeProxyReplacement). */
  proxy: z.strictObject({ disabled: z.boolean() }),
  encryptionAlgorithm: z.enum(['RSA-2048', 'RSA-3072', 'RSA-4096', 'ECDSA-P256']),
});
export type ClusterConfiguration = z.output<typeof ClusterConfiguration>;

export const JoinConfiguration = z.strictObject({
  apiVersion: z.literal('kubeadm.k8s.io/v1beta4'),
  kind: z.literal('JoinConfiguration'),
  nodeRegistration: NodeRegistration,
  discovery: z.strictObject({
    bootstrapToken: z.strictObject({
      token: z.string().regex(/^[a-z0-9]{6}\.[a-z0-9]{16}$/),
      apiServerEndpoint: z.string().min(1),
      /** The cluster CA's pin: discovery refuses an API that presents another CA. */
      caCertHashes: z.array(z.string().regex(/^sha256:[0-9a-f]{64}$/)).min(1),
    }),
  }),
  /** Present on a control plane: it runs an API server (and a stacked etcd member) of its own. */
  controlPlane: z.strictObject({ localAPIEndpoint: ApiEndpoint }).optional(),
});
export type JoinConfiguration = z.output<typeof JoinConfiguration>;

export const KubeletConfiguration = z.strictObject({
  apiVersion: z.literal('kubelet.config.k8s.io/v1beta1'),
  kind: z.literal('KubeletConfiguration'),
  /** Must match containerd's SystemdCgroup = true (containerd docs/cri/config.md). */
  cgroupDriver: z.literal('systemd'),
  containerRuntimeEndpoint: z.string().regex(/^unix:\/\/\//),
  /** kubelet refuses to start with swap on unless told otherwise; the prepare stage turns swap off. */
  failSwapOn: z.literal(true),
  /** kubelet >= 1.35 refuses cgroup v1 (KEP-5573): said explicitly, and the check rules refuse cgroup v1 bases. */
  failCgroupV1: z.literal(true),
  clusterDomain: z.string().min(1),
  /** Rotate the kubelet's client certificate before it expires (kubeadm's default, said explicitly). */
  rotateCertificates: z.literal(true),
});
export type KubeletConfiguration = z.output<typeof KubeletConfiguration>;

export const KubeProxyConfiguration = z.strictObject({
  apiVersion: z.literal('kubeproxy.config.k8s.io/v1alpha1'),
  kind: z.literal('KubeProxyConfiguration'),
  /** The pod network: traffic from outside it to a Service is masqueraded. */
  clusterCIDR: Cidr,
  /** iptables, kube-proxy's default on Linux, said explicitly. */
  mode: z.enum(['iptables', 'ipvs', 'nftables']),
});
export type KubeProxyConfiguration = z.output<typeof KubeProxyConfiguration>;

export type KubeadmDocument = InitConfiguration | ClusterConfiguration | JoinConfiguration | KubeletConfiguration | KubeProxyConfiguration;

export const MODELS = { InitConfiguration, ClusterConfiguration, JoinConfiguration, KubeletConfiguration, KubeProxyConfiguration } as const;
