import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { loadCluster } from '../../src/config/index.ts';
import type { Cluster } from '../../src/config/resolve.ts';
import { kubeadmDocuments, kubeadmYaml, leaderOf } from '../../src/kubeadm/documents.ts';
import { loadSecrets } from '../../src/secrets/store.ts';
import { EXAMPLES, golden, hasTool, ROOT, tempDir } from '../helpers.ts';
import { validateKubeadmStream } from './strict.ts';

/** The CA pin as the kubeadm docs compute it with openssl (kubeadm join's own help text), not with imgforge's code. */
function opensslPin(caPem: string): string {
  const dir = tempDir('imgforge-pin-');
  writeFileSync(join(dir, 'ca.crt'), caPem);
  const r = spawnSync('sh', ['-c', `openssl x509 -pubkey -noout -in '${dir}/ca.crt' | openssl pkey -pubin -outform der | openssl dgst -sha256 -hex | sed 's/^.* //'`], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return `sha256:${r.stdout.trim()}`;
}

const kinds = (text: string): string[] => parseAllDocuments(text).map((d) => (d.toJS() as { kind: string }).kind);
const parsed = (text: string): Record<string, any>[] => parseAllDocuments(text).map((d) => d.toJS() as Record<string, any>);
const withConfig = (cluster: Cluster, patch: (c: any) => void): Cluster => {
  const config = structuredClone(cluster.config);
  patch(config.cluster);
  return { ...cluster, config, nodes: cluster.nodes };
};

for (const [name, config] of EXAMPLES) {
  describe(`kubeadm documents of example ${name}`, () => {
    test('every node\'s stream passes the strict v1beta4 field lists and kubeadm\'s checks; goldens match', async () => {
      const cluster = await loadCluster(join(ROOT, config));
      const secrets = (await loadSecrets(cluster))!;
      assert.ok(secrets, 'the example has fixed test secrets');
      const pin = opensslPin(secrets.cas.cluster.cert);
      const e = cluster.config.cluster.controlPlaneEndpoint;
      const endpoint = `${e.dnsName ?? e.vip}:${e.port}`;
      let inits = 0;
      for (const n of cluster.nodes) {
        const text = kubeadmYaml(kubeadmDocuments(cluster, n, secrets));
        if (n.config.role === 'etcd') { assert.equal(text, '', 'an external etcd node runs no kubeadm'); continue; }
        assert.deepEqual(validateKubeadmStream(text), [], `${n.config.hostname}:\n${text}`);
        golden(`${name}/kubeadm/${n.config.hostname}.yaml`, text);
        const docs = parsed(text);
        const init = docs.find((d) => d.kind === 'InitConfiguration');
        if (init) {
          inits++;
          assert.equal(n, leaderOf(cluster));
          const cc = docs.find((d) => d.kind === 'ClusterConfiguration')!;
          assert.equal(cc.controlPlaneEndpoint, endpoint);
          assert.equal(cc.kubernetesVersion, `v${cluster.config.cluster.kubernetesVersion}`);
          assert.equal(cc.networking.podSubnet, cluster.config.cluster.podCidr);
          // kube-proxy is skipped exactly when Cilium replaces it, and configured otherwise.
          const kpr = cluster.config.cluster.cni.plugin === 'cilium' && cluster.config.cluster.cni.kubeProxyReplacement;
          assert.equal(cc.proxy.disabled, kpr);
          assert.equal(docs.some((d) => d.kind === 'KubeProxyConfiguration'), !kpr);
          assert.equal(cc.etcd.external !== undefined, cluster.config.cluster.etcd.topology === 'external');
          const tokens = init.bootstrapTokens.map((t: { token: string }) => t.token);
          assert.ok(tokens.includes(`${secrets.token.id}.${secrets.token.secret}`));
        } else {
          const join = docs[0]!;
          assert.deepEqual(kinds(text), ['JoinConfiguration']);
          assert.equal(join.discovery.bootstrapToken.apiServerEndpoint, endpoint);
          assert.deepEqual(join.discovery.bootstrapToken.caCertHashes, [pin]);
          assert.equal(join.controlPlane !== undefined, n.config.role === 'control-plane');
        }
        // A control plane keeps its NoSchedule taint unless the config makes control planes schedulable.
        const reg = docs[0]!.nodeRegistration;
        const tainted = reg.taints.some((t: { key: string }) => t.key === 'node-role.kubernetes.io/control-plane');
        assert.equal(tainted, n.config.role === 'control-plane' && !cluster.config.cluster.schedulableControlPlanes);
        assert.equal(reg.name, n.config.hostname);
      }
      assert.equal(inits, 1, 'exactly one node runs kubeadm init');
    });

    test('kubeadm config validate accepts every document (when kubeadm is on PATH)', { skip: !hasTool('kubeadm') && 'kubeadm is not installed here' }, async () => {
      const cluster = await loadCluster(join(ROOT, config));
      const secrets = (await loadSecrets(cluster))!;
      const dir = tempDir('imgforge-kubeadm-');
      for (const n of cluster.nodes.filter((x) => x.config.role !== 'etcd')) {
        const f = join(dir, `${n.config.hostname}.yaml`);
        writeFileSync(f, kubeadmYaml(kubeadmDocuments(cluster, n, secrets)));
        const r = spawnSync('kubeadm', ['config', 'validate', '--config', f], { encoding: 'utf8' });
        assert.equal(r.status, 0, `${n.config.hostname}: ${r.stderr}`);
      }
    });
  });
}

describe('the leader', () => {
  test('is the first control plane in config order, or the one cluster.leader names', async () => {
    const cluster = await loadCluster(join(ROOT, 'images.config.ts'));
    assert.equal(leaderOf(cluster)!.config.hostname, 'cp01');
    const named = withConfig(cluster, (c) => { c.leader = 'cp02'; });
    assert.equal(leaderOf(named)!.config.hostname, 'cp02');
    const secrets = (await loadSecrets(cluster))!;
    const cp02 = named.nodes.find((n) => n.config.hostname === 'cp02')!;
    const cp01 = named.nodes.find((n) => n.config.hostname === 'cp01')!;
    assert.deepEqual(kinds(kubeadmYaml(kubeadmDocuments(named, cp02, secrets))), ['InitConfiguration', 'ClusterConfiguration', 'KubeletConfiguration']);
    assert.deepEqual(kinds(kubeadmYaml(kubeadmDocuments(named, cp01, secrets))), ['JoinConfiguration']);
  });

  test('creates the cluster\'s token; a node rotate-token gave its own joins with it, and the leader\'s documents do not change', async () => {
    const cluster = await loadCluster(join(ROOT, 'images.config.ts'));
    const secrets = structuredClone((await loadSecrets(cluster))!);
    const before = kubeadmYaml(kubeadmDocuments(cluster, leaderOf(cluster)!, secrets));
    secrets.nodeTokens['worker04'] = { id: 'zzzzzz', secret: '0123456789abcdef', expires: '2027-06-01T00:00:00.000Z' };
    const leader = kubeadmYaml(kubeadmDocuments(cluster, leaderOf(cluster)!, secrets));
    assert.equal(leader, before);
    assert.deepEqual(parsed(leader)[0]!.bootstrapTokens.map((t: { token: string; expires: string }) => [t.token, t.expires]),
      [[`${secrets.token.id}.${secrets.token.secret}`, secrets.token.expires]]);
    const w4 = cluster.nodes.find((n) => n.config.hostname === 'worker04')!;
    assert.equal(parsed(kubeadmYaml(kubeadmDocuments(cluster, w4, secrets)))[0]!.discovery.bootstrapToken.token, 'zzzzzz.0123456789abcdef');
  });
});

describe('the strict reader rejects what kubeadm config validate rejects', () => {
  const good = async (): Promise<string> => {
    const cluster = await loadCluster(join(ROOT, 'images.config.ts'));
    return kubeadmYaml(kubeadmDocuments(cluster, leaderOf(cluster)!, (await loadSecrets(cluster))!));
  };
  const cases: [string, (t: string) => string, RegExp][] = [
    ['a misspelt field', (t) => t.replace('controlPlaneEndpoint:', 'controlPlaneEndPoint:'), /unknown field "controlPlaneEndPoint"/],
    ['a v1beta3 map where v1beta4 wants a list', (t) => t.replace(/kubeletExtraArgs:\n(.*\n){2}/, 'kubeletExtraArgs:\n    node-ip: 192.168.1.11\n'), /kubeletExtraArgs: must be a list/],
    ['an unknown kind', (t) => t.replace('kind: KubeletConfiguration', 'kind: KubeletConfig'), /unknown apiVersion\/kind/],
    ['a malformed token', (t) => t.replace(/token: [a-z0-9]{6}\./, 'token: ABCDEF.'), /bootstrap token is invalid/],
    ['a duration that is not one', (t) => t.replace('rotateCertificates: true', 'rotateCertificates: true\nsyncFrequency: 10 minutes'), /syncFrequency: must be a duration/],
    ['a bad pod subnet', (t) => t.replace(/podSubnet: .*/, 'podSubnet: 10.244.0.0'), /couldn't parse subnet/],
  ];
  for (const [what, mutate, error] of cases) {
    test(what, async () => {
      const text = await good();
      const bad = mutate(text);
      assert.notEqual(bad, text, 'the mutation applies');
      assert.match(validateKubeadmStream(bad).join('\n'), error);
    });
  }

  test('the renderer itself refuses a document its strict model does not describe', async () => {
    const cluster = await loadCluster(join(ROOT, 'images.config.ts'));
    const secrets = (await loadSecrets(cluster))!;
    // A pod network kubeadm could not parse fails the render, naming the node and the document.
    const broken = withConfig(cluster, (c) => { c.podCidr = 'not-a-cidr'; });
    assert.throws(() => kubeadmDocuments(broken, leaderOf(broken)!, secrets), (e: Error) => /cp01/.test(e.message) && /ClusterConfiguration/.test(e.message));
  });
});
