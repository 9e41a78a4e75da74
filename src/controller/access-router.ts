/**
 * Binding SIDs (not implemented yet: see docs/controller.md, "What is left"). With binding SIDs the
 * controller answers a client with one BSID (TYPE 65280 record, records.ts) instead of the segment
 * list, after an access router has installed `BSID/128 encap seg6local action End.B6.Encaps srh segs
 * …` for it; proxies reached through a BSID learn the policy behind it from the controller.
 * This is the interface that work plugs into: the resolver asks an agent for a BSID per path and
 * holds the DNS answer until `install` resolves.
 */
export interface BsidPolicy {
  /** the binding SID, inside the access router's `bsidPrefix` */
  bsid: string;
  /** the client prefix it is installed for */
  source: { prefix: string; length: number };
  /** the segments the access router pushes (function SIDs, then the destination) */
  segments: string[];
  /** when the route is removed (ms since the epoch) */
  expiresAt: number;
}

export interface AccessRouterAgent {
  readonly name: string;
  /** installs the End.B6.Encaps route; resolves once traffic to the BSID is steered */
  install(policy: BsidPolicy): Promise<void>;
  /** removes it (on expiry, or when the path changes) */
  remove(bsid: string): Promise<void>;
  /** the BSIDs currently installed */
  list(): Promise<BsidPolicy[]>;
}
