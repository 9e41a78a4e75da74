/**
 * Binding SIDs at an access router: the interface between the controller and whatever installs the
 * routes. The controller (bsid/manager.ts) allocates a BSID per (client, policy), asks the agent to
 * install `BSID/128 encap seg6local action End.B6.Encaps srh segs …` and only then answers the
 * client. Agents: `LocalAccessRouter` (agent/local.ts: runs `ip` and `nft` on this host, or in a
 * network namespace) and `HttpAccessRouter` (agent/http.ts: the same, remotely, through the
 * `srv6pipes access-router` daemon that runs on the router).
 */
export interface BsidPolicy {
  /** the binding SID, inside the access router's `bsidPrefix` */
  bsid: string;
  /** the client prefix it is installed for: traffic to the BSID from elsewhere is dropped */
  source: { prefix: string; length: number };
  /** the segments the access router pushes: the function SIDs, in travel order (not the destination) */
  segments: string[];
  /** when the route is removed (ms since the epoch), by the controller and by the agent itself */
  expiresAt: number;
  /** the controller's key for it (client, policy, chain, destination network): lets a restarted controller adopt it */
  key?: string;
}

/** What the router's filter has dropped so far. */
export interface AccessRouterCounters {
  /** packets to the BSID prefix whose destination is no installed BSID */
  unknownBsid: number;
  /** packets to an installed BSID from a source it is not installed for */
  unauthorised: number;
  /** SR packets from a client interface whose active segment is not an installed BSID */
  notBsid: number;
}

export interface AccessRouterAgent {
  readonly name: string;
  /** installs (or replaces) the End.B6.Encaps route and its filter entry; resolves once traffic to the BSID is steered */
  install(policy: BsidPolicy): Promise<void>;
  /** removes it (on expiry, or when no path is left); removing an unknown BSID is not an error */
  remove(bsid: string): Promise<void>;
  /** the BSIDs currently installed */
  list(): Promise<BsidPolicy[]>;
  counters(): Promise<AccessRouterCounters>;
}
