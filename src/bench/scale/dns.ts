import type { ScaleContext } from './common.js';
export async function measureDns(_ctx: ScaleContext, _o: { seconds: number; coldQueries: number }): Promise<void> {}
