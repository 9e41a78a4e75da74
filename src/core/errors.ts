/**
 * Typed errors with stable codes.
 *
 * `SrError` is the one error class of the project. Its `code` is stable (tests and operators match on
 * it); `kind` says who must act: `user` errors (bad config, bad input, missing privilege or tool)
 * print one line plus a hint and no stack; `bug` errors print a stack. Input that comes off the wire
 * (SRH bytes, DNS packets) fails with `input` errors: the flow or packet is rejected, the daemon goes on.
 */

export type ErrorKind = 'user' | 'input' | 'bug';

/** Every code, with its kind and a default hint. The table is the documentation (README links here). */
export const ERROR_CODES = {
  // codecs (input off the wire)
  SRH_TRUNCATED: { kind: 'input', hint: 'the buffer is shorter than the SRH length field says' },
  SRH_BAD_TYPE: { kind: 'input', hint: 'an SRH has Routing Type 4' },
  SRH_BAD_LENGTH: { kind: 'input', hint: 'Hdr Ext Len must leave room for at least one segment (at least 2)' },
  SRH_BAD_LAST_ENTRY: { kind: 'input', hint: 'Last Entry must be the index of the last segment' },
  SRH_BAD_SEGMENTS_LEFT: { kind: 'input', hint: 'Segments Left must not exceed Last Entry' },
  SRH_BAD_TLV: { kind: 'input', hint: 'a TLV runs past the end of the header' },
  SRH_TOO_LONG: { kind: 'user', hint: 'an SRH is at most 2048 bytes: 127 segments without TLVs' },
  SRH_BAD_FIELD: { kind: 'user', hint: 'Next Header and Flags are bytes (0..255), Tag is 16 bits (0..65535)' },
  BAD_ADDRESS: { kind: 'user', hint: 'write an IPv6 address such as fc00:a::1' },
  BAD_PREFIX: { kind: 'user', hint: 'write an IPv6 prefix such as fc00:a::/80' },
  SID_BAD_LAYOUT: { kind: 'user', hint: 'locator length + function bits must be at most 128' },
  SID_FIELD_RANGE: { kind: 'user', hint: 'the function or argument does not fit its bits' },
  CONVERT_TRUNCATED: { kind: 'input', hint: 'the MPTCP stream ended before its converter header was complete (docs/mptcp.md)' },
  CONVERT_BAD_VERSION: { kind: 'input', hint: 'the stream does not start with a converter header of a version this proxy speaks (docs/mptcp.md)' },
  CONVERT_BAD_LENGTH: { kind: 'input', hint: 'Header Length must be 56..1024 bytes (docs/mptcp.md)' },
  CONVERT_BAD_TLV: { kind: 'input', hint: 'a converter TLV runs past the header, repeats, or is an unknown must-understand type (docs/mptcp.md)' },
  CONVERT_TOO_MANY_SEGMENTS: { kind: 'input', hint: 'a converter header carries at most 15 segments after the converter SID' },
  CONVERT_BAD_FIELD: { kind: 'user', hint: 'ports are 0..65535' },
  DNS_RECORD_FIELD: { kind: 'bug', hint: 'a private DNS record field is out of its range (an SRH record holds 1..127 segments, a priority or return id is 16 bits, a prefix length 0..128): the caller checks it first' },
  CONVERT_FORBIDDEN: { kind: 'input', hint: 'only the addresses in mptcp.converter.from may open converted flows' },
  CONVERT_TIMEOUT: { kind: 'input', hint: 'the converter header did not arrive within timeouts.connect' },
  CMSG_MALFORMED: { kind: 'input', hint: 'the kernel returned ancillary data that does not parse' },
  RETURN_PATH_REFUSED: { kind: 'input', hint: 'the kernel refused the reply SRH on the accepted socket (seg6_validate_srh)' },
  // configuration and environment
  CONFIG_READ: { kind: 'user', hint: 'check the path and its permissions' },
  CONFIG_SYNTAX: { kind: 'user', hint: 'the file must be YAML (JSON is YAML too)' },
  CONFIG_INVALID: { kind: 'user', hint: 'fix the field named above; see the config reference in README.md' },
  UNKNOWN_FUNCTION: { kind: 'user', hint: 'built-in functions: see `srv6pipes functions`' },
  BAD_FUNCTION_MODULE: { kind: 'user', hint: 'a module must `export default defineFunction({ name, summary, options, spawn })`: see docs/writing-a-function.md' },
  FUNCTION_NOT_LOADED: { kind: 'user', hint: 'see the loaded functions with: srv6pipes ctl list' },
  NOT_ROOT: { kind: 'user', hint: 'run as root (CAP_NET_ADMIN is needed), or set `netconf: off`' },
  TOOL_MISSING: { kind: 'user', hint: 'install it: apt-get install nftables iproute2' },
  COMMAND_FAILED: { kind: 'user', hint: 'the command above failed; its output says why' },
  PORT_BUSY: { kind: 'user', hint: 'another process listens on that port: stop it or change `port`' },
  NATIVE_MISSING: { kind: 'user', hint: 'in a clone: npm run setup; in an installed package: npm rebuild srv6pipes (needs a C compiler, make and python3)' },
  BPF_UNSUPPORTED: { kind: 'user', hint: 'netconf.intercept: sklookup needs Linux >= 5.9 with BPF (sk_lookup, SOCKMAP, LPM trie) and CAP_BPF/CAP_NET_ADMIN; or set netconf.intercept: tproxy' },
  BPF_VERIFIER: { kind: 'bug', hint: 'the kernel refused the sk_lookup program; its verifier log is in the message (docs/security.md, interception)' },
  ADMIN_UNREACHABLE: { kind: 'user', hint: 'is the proxy running? check --admin (default 127.0.0.1:7778)' },
  ADMIN_UNAUTHORIZED: { kind: 'user', hint: 'this needs the admin credential: --socket PATH, --token-file FILE, or --config proxy.yaml (docs/security.md)' },
  ADMIN_REFUSED: { kind: 'user', hint: 'the admin endpoint takes only JSON POSTs addressed to its own address or a loopback name, with no foreign Origin (docs/security.md)' },
  ADMIN_INSECURE: { kind: 'user', hint: 'a non-loopback admin address needs `admin.tokenFile`, or `admin.readOnly: true` for a health/metrics-only listener (docs/security.md)' },
  MODULE_NOT_ALLOWED: { kind: 'user', hint: 'over the admin endpoint, modules load only from `admin.moduleDirs` (default: the config file\'s directory); see docs/security.md' },
  EXEC_NOT_ALLOWED: { kind: 'user', hint: 'over the admin endpoint, exec runs only argv from the config file or `admin.execArgv`, without env or cwd; see docs/security.md' },
  BAD_ARGUMENT: { kind: 'user', hint: 'see --help' },
  PLOT_DEPS_MISSING: { kind: 'user', hint: 'bench plots need the optional dependencies vega and vega-lite: npm install vega vega-lite (in a clone: npm ci, without --omit=optional)' },
  // lab
  LAB_EXISTS: { kind: 'user', hint: 'take it down first: srv6pipes lab down --name NAME' },
  LAB_NOT_FOUND: { kind: 'user', hint: 'list labs with: srv6pipes lab status' },
  LAB_UNKNOWN_HOST: { kind: 'user', hint: 'see the hosts with: srv6pipes lab status' },
  TOPOLOGY_INVALID: { kind: 'user', hint: 'fix the topology file; see README.md (lab)' },
  LAB_UP_FAILED: { kind: 'user', hint: 'the lab was taken down again; the message names the step (or the service log)' },
  LINK_EMULATION_FAILED: { kind: 'user', hint: 'an emulated link did not deliver its configured delay or loss: see the link emulator stats (Lab.linkStatus) and its log' },
  // steer (an unmodified program through the controller's path)
  STEER_RESOLVE_FAILED: { kind: 'user', hint: 'check the name, --functions and --controller with: srv6pipes resolve NAME' },
  STEER_NO_ROUTE: { kind: 'user', hint: 'the first segment of the path must be routable from this namespace: check `ip -6 route`' },
  STEER_ROUTE_EXISTS: { kind: 'user', hint: 'remove that route, or pass --replace to take it over (it is put back on exit)' },
  STEER_EXEC_FAILED: { kind: 'user', hint: 'give the command after `--`, by its path or on PATH' },
  // the access-router agent (docs/security.md#the-access-router-agent)
  AGENT_NO_CREDENTIAL: { kind: 'user', hint: 'give --token-file (with --tls-cert/--tls-key), or --tls-client-ca (mutual TLS), or listen on loopback ([::1]:PORT)' },
  AGENT_UNAUTHORISED: { kind: 'input', hint: 'the controller needs the agent\'s token: nodes.accessRouters[].agent.tokenFile (and tls for https)' },
  AGENT_BUSY: { kind: 'input', hint: 'too many changes in flight at the access-router agent (--max-in-flight): retried on the next query' },
  AGENT_FULL: { kind: 'input', hint: 'the access-router agent holds --max-bsids binding SIDs: raise it or lower bindingSids.lifetime' },
  AGENT_UNREACHABLE: { kind: 'user', hint: 'is `srv6pipes access-router` running there? check nodes.accessRouters[].agent (address, tls, tokenFile)' },
  BSID_POLICY_REFUSED: { kind: 'input', hint: 'the agent refused the install: see its limits (--min-source-length, --max-lifetime, --max-segments, --bsid-prefix)' },
  // the controller's shared store (store.etcd, docs/controller.md#the-etcd-store)
  STORE_UNAVAILABLE: { kind: 'user', hint: 'is etcd running and reachable at store.etcd.endpoints? check its tls, username and passwordFile (docs/controller.md, the etcd store)' },
  // flows (logged and counted, never thrown out of the daemon)
  FLOW_NO_SRH: { kind: 'input', hint: 'the SYN carried no SRH' },
  FLOW_NOT_OURS: { kind: 'input', hint: 'no segment falls in this proxy’s locators' },
  FLOW_UNKNOWN_FUNCTION: { kind: 'input', hint: 'the function id is not configured on this proxy' },
  FLOW_BAD_ARGUMENT: { kind: 'input', hint: 'the SID\'s argument bits mean nothing to its function (see its argument in `srv6pipes functions`): the flow is reset before anything is spawned or connected' },
  FLOW_CONNECT_FAILED: { kind: 'input', hint: 'the next hop refused or did not answer (within timeouts.connect)' },
  FLOW_TIMEOUT: { kind: 'input', hint: 'the flow was idle longer than timeouts.idle (flow ending idle_timeout)' },
  PROXY_DRAINING: { kind: 'input', hint: 'the proxy is stopping (SIGTERM, or its worker is draining): it takes no new flows; the client may retry on another proxy' },
  FLOW_LIMIT: { kind: 'input', hint: 'the proxy holds limits.flows concurrent flows (each worker its share): raise it or add proxies' },
  FLOW_CLIENT_LIMIT: { kind: 'input', hint: 'this client (its /limits.clientPrefix) holds limits.flowsPerClient concurrent flows' },
  FUNCTION_LIMIT: { kind: 'input', hint: 'this function holds its limits.perFunction concurrent flows' },
  NOFILE_LIMIT: { kind: 'input', hint: 'the worker’s descriptor limit (RLIMIT_NOFILE) has no room for another flow: see limits.nofile, or run as root so the proxy can raise it' },
  ACCEPT_FAILED: { kind: 'input', hint: 'accept() failed (EMFILE/ENFILE: out of descriptors): see limits.nofile and the log; the listener goes on' },
  FLOW_LINK_LOCAL: { kind: 'input', hint: 'a link-local client (fe80::/10) cannot be proxied transparently: its address is valid on its link only (a router drops it too)' },
  MPTCP_PM_FAILED: { kind: 'input', hint: 'the userspace path manager refused a subflow: check `mptcp.pathManager: userspace` and the uplinks (docs/mptcp.md)' },
  FLOW_UNKNOWN_BSID: { kind: 'input', hint: 'the controller knows no binding SID of that address (expired?)' },
  DNS_BAD_ANSWER: { kind: 'input', hint: 'the DNS server sent an answer that does not parse: is --controller a srv6pipes controller?' },
  // the controller's answer to a path query or a private lookup, when it is not NOERROR (DNS_<RCODE>, src/dns/query.ts)
  DNS_REFUSED: { kind: 'input', hint: 'the controller refused: a policy denies this client or name, a function has no live replica, or this host may not ask that lookup — its query log says which' },
  DNS_NXDOMAIN: { kind: 'input', hint: 'the name does not exist in the controller’s zones: check it with srv6pipes resolve NAME' },
  DNS_SERVFAIL: { kind: 'input', hint: 'the controller found no path through the functions (or failed): its query log says why' },
  DNS_FORMERR: { kind: 'input', hint: 'the controller could not parse the query: is --controller a srv6pipes controller?' },
  DNS_NOTIMP: { kind: 'input', hint: 'the server does not implement this query: is --controller a srv6pipes controller?' },
  DNS_RCODE: { kind: 'input', hint: 'the server answered an rcode a srv6pipes controller never sends (named above): is --controller a srv6pipes controller?' },
  DNS_NODATA: { kind: 'input', hint: 'the name has no IPv6 address (AAAA): an IPv4-only name cannot carry an SRH; check the zone' },
  CONTROLLER_UNREACHABLE: { kind: 'input', hint: 'no answer from the controller: is `srv6pipes controller` running there, and is --controller its address and port ([ADDR]:PORT)? check the route to it with `ip -6 route get ADDR`' },
  CONNECT_FAILED: { kind: 'input', hint: 'the destination, or the first segment of the path, refused or did not answer within --timeout: check the address and port, and the path with `srv6pipes resolve NAME` (or --segments)' },
  BSID_LOOKUP_FAILED: { kind: 'input', hint: 'check `bindingSids.controller` in the proxy config and that the controller answers this proxy' },
  BSID_LOOKUP_BUSY: { kind: 'input', hint: 'too many binding-SID lookups in flight (bindingSids.maxInflight): a slow controller, or SYNs naming many BSIDs' },
  BSID_NOT_READY: { kind: 'input', hint: 'the binding took longer than bindingSids.answerWithin (the store or the access-router agent is slow or unreachable): the client\'s retry gets it once it is done' },
  BSID_LIMIT: { kind: 'input', hint: 'the controller refused a new binding SID: see bindingSids.perClient, .max and .rate in its config (docs/controller.md)' },
  RELAY_HANDOVER: { kind: 'bug', hint: 'a pair handed to the native relay must be two connected TCP sockets with nothing buffered in JavaScript, on a relay not yet closed (src/native/relay.ts)' },
  RELAY_OPS: { kind: 'bug', hint: "a function's native ops must be ones the relay thread runs (xor: key 0..255, passes 0..1024; ratelimit: rate > 0, burst >= 1; at most 64 per direction): see src/native/relay.ts" },
  INTERNAL: { kind: 'bug', hint: 'this is a bug: please report it with the stack above' },
} as const satisfies Record<string, { kind: ErrorKind; hint: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;

export class SrError extends Error {
  readonly code: ErrorCode;
  readonly kind: ErrorKind;
  readonly hint: string;

  constructor(code: ErrorCode, message: string, options?: { hint?: string; cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'SrError';
    this.code = code;
    this.kind = ERROR_CODES[code].kind;
    this.hint = options?.hint ?? ERROR_CODES[code].hint;
  }
}

export function isSrError(e: unknown, code?: ErrorCode): e is SrError {
  return e instanceof SrError && (code === undefined || e.code === code);
}

/** An errno-carrying error from the native layer or Node (code like 'EADDRINUSE'). */
export function errnoCode(e: unknown): string | undefined {
  if (e && typeof e === 'object' && 'code' in e && typeof (e as { code: unknown }).code === 'string') {
    return (e as { code: string }).code;
  }
  return undefined;
}
