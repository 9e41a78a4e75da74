/** The descriptor table: every benchmark figure, in run order. */
import { connSetup, memory } from './conncost.js';
import { fig11 } from './fig11.js';
import { fig6 } from './fig6.js';
import { fig7, fig8 } from './fig78.js';
import { fig9, xorKernel } from './fig9.js';
import type { Figure } from './types.js';

export const FIGURES: Figure[] = [fig6, fig7, fig8, fig9, xorKernel, fig11, connSetup, memory];
