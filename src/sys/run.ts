/** Running system commands (ip, nft, sysctl) with typed failures. */
import { execFile, spawnSync } from 'node:child_process';
import { SrError } from '../core/errors.js';

export interface RunResult {
  stdout: string;
  stderr: string;
  code: number;
}

export function hasCommand(name: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' }).status === 0;
}

/** Runs argv; resolves with its output whatever the exit code. */
export function run(argv: string[], input?: string): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(argv[0]!, argv.slice(1), { maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err && typeof (err as { code?: unknown }).code === 'string') {
        if ((err as { code: string }).code === 'ENOENT') {
          reject(new SrError('TOOL_MISSING', `${argv[0]} is not installed`));
          return;
        }
        reject(err);
        return;
      }
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ stdout, stderr, code });
    });
    if (input !== undefined) child.stdin?.end(input);
  });
}

/** Runs argv and fails with COMMAND_FAILED (naming the command and its stderr) on a non-zero exit. */
export async function runOk(argv: string[], input?: string): Promise<string> {
  const r = await run(argv, input);
  if (r.code !== 0) {
    throw new SrError('COMMAND_FAILED', `\`${argv.join(' ')}\` failed: ${r.stderr.trim().split('\n')[0] ?? ''}`);
  }
  return r.stdout;
}
