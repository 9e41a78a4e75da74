/** Text columns for CLI output: the first row is the header; cells are padded to the widest. */
export function table(rows: string[][], indent = ''): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => indent + r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
}
