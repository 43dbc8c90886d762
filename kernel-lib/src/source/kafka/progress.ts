/** A one-line progress display: a bar on a terminal, periodic plain lines otherwise (logs, CI). */

/** What a progress display is told. */
export interface ProgressUpdate {
  done: number;
  /** The expected total, when known. */
  total?: number;
  /** Seconds since the start. */
  elapsed: number;
}

/**
 * A progress reporter writing to `stream` (default stdout): `update` as often as you like (it
 * redraws at most 10 times a second on a TTY, once every `intervalMs` otherwise), `finish` once.
 *
 * @example
 * const bar = progressBar('produced', 'docs');
 * bar.update({ done: 500, total: 1000, elapsed: 1.2 });
 * bar.finish({ done: 1000, total: 1000, elapsed: 2.3 });
 */
export function progressBar(
  label: string,
  unit: string,
  stream: NodeJS.WriteStream = process.stdout,
  intervalMs = 5000,
): { update: (u: ProgressUpdate) => void; finish: (u: ProgressUpdate) => void } {
  const tty = stream.isTTY === true;
  let last = 0;
  const text = (u: ProgressUpdate): string => {
    const rate = u.elapsed > 0 ? Math.round(u.done / u.elapsed) : 0;
    const tail = `${u.done.toLocaleString('en-US')}${u.total !== undefined ? `/${u.total.toLocaleString('en-US')}` : ''} ${unit}, ${rate.toLocaleString('en-US')} ${unit}/s, ${u.elapsed.toFixed(1)} s`;
    if (!tty || u.total === undefined || u.total === 0) return `${label}: ${tail}`;
    const width = 30;
    const filled = Math.min(width, Math.round((u.done / u.total) * width));
    return `${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${Math.floor((u.done / u.total) * 100)}% ${tail}`;
  };
  return {
    update(u) {
      const now = Date.now();
      if (now - last < (tty ? 100 : intervalMs)) return;
      last = now;
      stream.write(tty ? `\r${text(u)}\x1b[K` : `${text(u)}\n`);
    },
    finish(u) {
      stream.write(tty ? `\r${text(u)}\x1b[K\n` : `${text(u)}\n`);
    },
  };
}
