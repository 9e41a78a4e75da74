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
