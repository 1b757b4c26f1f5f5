/** The errors of the seed server (`imgforge serve`) and its client (`imgforge status`). Part of the catalogue (catalogue.ts). */
import { entry } from './entry.ts';

export const serveEntries = {
  ServePortInUse: entry<{ address: string; port: number }>({
    category: 'environment',
    title: 'The port is in use',
    message: (a) => `Cannot listen on ${a.address} port ${a.port}: another program holds it. Nothing is served.`,
    hint: (a) => `\`ss -ltnp 'sport = :${a.port}'\` shows which program; stop it, or pass --listen with another port (and --url to match).`,
  }),
  ServeListenFailed: entry<{ address: string; port: number; detail: string }>({
    category: 'environment',
    title: 'Cannot listen',
    message: (a) => `Cannot listen on ${a.address} port ${a.port}: ${a.detail}. Nothing is served.`,
    hint: () => 'Listen on an address this host has (`ip -brief address`), and on a port above 1023 unless imgforge runs as root.',
  }),
  ServeKeyInvalid: entry<{ path: string; detail: string }>({
    category: 'input',
    title: 'The enrolment key is not usable',
    message: (a) => `${a.path}: ${a.detail}. Nothing is served.`,
    hint: (a) => `It holds what every node's enrolment secret derives from. Fix its mode (chmod 600 ${a.path}), or remove it to make a new key: every enrolled seed URL changes.`,
  }),
  ServeTlsInvalid: entry<{ detail: string }>({
    category: 'input',
    title: 'The TLS certificate or key is not usable',
    message: (a) => `${a.detail}. Nothing is served.`,
    hint: () => '--tls-cert takes a PEM certificate (chain) and --tls-key its PEM private key; nodes must trust its issuer (curl checks it).',
  }),
  ServeStateUnwritable: entry<{ path: string; detail: string }>({
    category: 'io',
    title: 'The server cannot keep its state',
    message: (a) => `${a.path}: ${a.detail}. Nothing is served.`,
    hint: () => 'The state folder keeps the nodes\' events across restarts: pass --state-dir with a writable folder.',
  }),
  ClaimNonePending: entry<{ node: string; detail: string }>({
    category: 'input',
    title: 'No claim to approve',
    message: (a) => `${a.node} has no pending claim: ${a.detail}.`,
    hint: (a) => `A node booted from a generic image posts its claim to the running imgforge serve; \`imgforge status\` lists it under ${a.node}. Approve with the same --state-dir as serve.`,
  }),
  ClaimAmbiguous: entry<{ node: string; count: number }>({
    category: 'input',
    title: 'Several claims to choose from',
    message: (a) => `${a.node} has ${a.count} pending claims; name the one to approve:`,
    hint: (a) => `Pass its id: imgforge approve ${a.node} <id>. Approve only the machine you expect (its address and identifiers); the others are then refused.`,
  }),
  ClaimNotFound: entry<{ node: string; id: string; known: string }>({
    category: 'input',
    title: 'No such claim',
    message: (a) => `${a.node} has no claim ${a.id}.`,
    hint: (a) => `Its claims: ${a.known}.`,
  }),
  StatusUnreachable: entry<{ url: string; detail: string }>({
    category: 'environment',
    title: 'The seed server did not answer',
    message: (a) => `${a.url}: ${a.detail}.`,
    hint: () => 'Is `imgforge serve` running there? Pass --server with the URL it prints when it starts.',
  }),
  StatusInvalid: entry<{ url: string; detail: string }>({
    category: 'dependency',
    title: 'The seed server answered something else',
    message: (a) => `${a.url} is not an imgforge seed server's status: ${a.detail}.`,
    hint: () => 'Check --server names `imgforge serve` (the same imgforge version) and not another service.',
  }),
} as const;
