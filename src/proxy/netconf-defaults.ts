/** The defaults of `netconf.mark` and `netconf.table` (apart from netconf.ts, which imports config.ts's types). */
/** netconf.mark's default: one bit, above the marks of kube-proxy (0x4000, 0x8000), Cilium (0xf00), Tailscale (0xff0000), WireGuard (0xca6c) and the return steering (0x10000 + id) */
export const DEFAULT_MARK = 0x1000000;
/** netconf.table's default (not 100, the table of the usual TPROXY recipes; below the return steering's 20000 + id) */
export const DEFAULT_TABLE = 7777;
