import type { ScaleContext } from './common.js';
export async function measureRepoint(_ctx: ScaleContext, _n: number): Promise<void> {}
