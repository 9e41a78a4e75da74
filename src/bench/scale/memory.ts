import type { ScaleContext } from './common.js';
export async function measureMemory(_ctx: ScaleContext, _n: number[]): Promise<void> {}
