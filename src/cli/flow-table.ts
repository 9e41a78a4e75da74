/** `srv6pipes flows` as a table: one row per flow, the header first. */
import type { FlowRecord } from '../proxy/flow.js';

export function flowRows(flows: readonly FlowRecord[]): string[][] {
  // FN "1/3": function 1 upstream, function 3 for the replies (a return path named it)
  const rows = [['ID', 'FN', 'FUNCTION', 'ARG', 'CLIENT', 'SERVER', 'NEXT HOP', 'REPLY VIA', 'STATE', 'RELAY', 'AGE', 'UP', 'DOWN']];
  for (const f of flows) {
    const fn = f.downstreamFn !== undefined ? `${f.functionId}/${f.downstreamFn}` : String(f.functionId);
    // a flow on its way out says how it ends; RELAY: the native relay thread (nativeRelay) or JavaScript
    rows.push([String(f.id), fn, f.function, f.argument, f.client, f.server, f.nextHop, f.replyVia ?? '-', f.end ? `${f.state} (${f.end})` : f.state, f.relay ?? 'js', `${(f.ageMs / 1000).toFixed(0)}s`, String(f.bytesUp), String(f.bytesDown)]);
  }
  return rows;
}
