/** The example controller config for the paper's Fig. 1 lab (docs/controller.md shows it; tests use it). */
export const FIG1_CONTROLLER_YAML = `
listen: { address: "::", port: 53 }
ttl: 30
nodes:
  proxies:
    - name: p1
      locators: [ { prefix: "fc00:a::/80", functionBits: 16 } ]
      functions: { copy: 1, xor: 2 }
    - name: p2
      locators: [ { prefix: "fc00:b::/80" } ]
      functions: { xor: 2 }                # copy runs on p1 only
links:
  - { a: "fc00:1::/64", b: p1 }          # the client network hangs off p1
  - { a: p1, b: p2, cost: 10 }
  - { a: p2, b: "fc00:2::/64" }          # the server network off p2
zones:
  lab.example:
    server: fc00:2::2
    plain: fc00:2::2
    denied: fc00:2::2
    v4: 192.0.2.1
    big: [${Array.from({ length: 40 }, (_, i) => `"fc00:2::${(i + 16).toString(16)}"`).join(', ')}]
policies:
  - { clients: "fc00:1::/64", destination: denied.lab.example, deny: true }
  - clients: "fc00:1::/64"
    destination: server.lab.example
    require: [ copy ]
    allow: [ { function: xor, argument: 0x5a } ]
  - clients: "fc00:1::/64"
    destination: "fc00:2::/64"
    allow: [ { function: xor, argument: 0x5a }, { function: copy, argument: 7 } ]
`;

/**
 * The controller config for the `access` lab (binding SIDs, two replicas, health checks): the
 * controller runs in `ctl` (fc00:9::2), the access-router agent in `ar` on [fc00:9::1]:7780, with
 * the token in `ar.token` beside the config file (the agent's --token-file).
 * `health` is brisk so that a failover shows within a couple of seconds.
 */
export const ACCESS_CONTROLLER_YAML = `
listen: { address: "::", port: 53 }
ttl: 30
bindingSids: { lifetime: 120 }
health: { interval: 500, timeout: 400, fall: 2, rise: 2 }
nodes:
  accessRouters:
    - name: ar
      bsidPrefix: "fc00:f::/64"
      agent: { http: "[fc00:9::1]:7780", tokenFile: ar.token }   # beside this file; the agent's --token-file
  proxies:
    - name: p1a
      locators: [ { prefix: "fc00:a::/80" } ]
      functions: { compress: 1 }
      health: { address: "fc00:11::2", port: 7778 }
    - name: p1b
      locators: [ { prefix: "fc00:b::/80" } ]
      functions: { compress: 1 }
      health: { address: "fc00:12::2", port: 7778 }
    - name: p2
      locators: [ { prefix: "fc00:c::/80" } ]
      functions: { decompress: 2, copy: 3 }
      health: { address: "fc00:2::1", port: 7778 }
links:
  - { a: "fc00:1::/64", b: ar }            # the clients
  - { a: ar, b: p1a }
  - { a: ar, b: p1b, cost: 5 }             # the backup replica (see the lab's routes)
  - { a: p1a, b: p2 }
  - { a: p1b, b: p2 }
  - { a: p2, b: "fc00:2::/64" }            # the servers
zones:
  lab.example:
    server: fc00:2::2
    www: fc00:2::2
policies:
  # every flow to server.lab.example is compressed across the core: compress → decompress
  - clients: "fc00:1::/64"
    destination: server.lab.example
    require: [ compress, decompress ]
  # www: nothing required; a client may ask for copy
  - clients: "fc00:1::/64"
    destination: www.lab.example
    allow: [ copy ]
`;

/** The proxy config of each proxy in the `access` lab (function ids as the controller config says; the access router's bsidPrefix). */
export function accessProxyYaml(host: 'p1a' | 'p1b' | 'p2', controller = '[fc00:9::2]:53'): string {
  const locator = { p1a: 'fc00:a::/80', p1b: 'fc00:b::/80', p2: 'fc00:c::/80' }[host];
  const functions = host === 'p2' ? ['{ id: 2, vf: decompress }', '{ id: 3, vf: copy }'] : ['{ id: 1, vf: compress }'];
  return [
    'workers: 2',
    `locators: [ { prefix: "${locator}" } ]`,
    'functions:',
    ...functions.map((f) => `  - ${f}`),
    'admin: { address: "::", port: 7778, readOnly: true }',
    `bindingSids: { controller: "${controller}", prefixes: [ "fc00:f::/64" ] }`,
    'timeouts: { connect: 2s, drain: 3s }',
  ].join('\n');
}
