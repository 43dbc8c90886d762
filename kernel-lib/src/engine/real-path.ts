/**
 * Real paths (symlinks resolved) for the sandbox and the lakehouse: a folder or file whose real
 * path leaves the folder it belongs to is refused, so a symlink cannot lead a write, or a vacuum's
 * delete, out of the lakehouse.
 */
import { lstatSync, realpathSync } from 'node:fs';
import path from 'node:path';

/**
 * The real path of `p`, also when it does not exist yet: the longest existing prefix is resolved
 * and the rest appended (a folder about to be made is judged by where it will land).
 * @example realPath('/tmp/new/folder') // => '/private/tmp/new/folder' on macOS
 */
export function realPath(p: string): string {
  const absolute = path.resolve(p);
  const rest: string[] = [];
  let current = absolute;
  for (;;) {
    try {
      return path.join(realpathSync(current), ...rest.reverse());
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' && (err as NodeJS.ErrnoException).code !== 'ENOTDIR') throw err;
      const parent = path.dirname(current);
      if (parent === current) return absolute;
      rest.push(path.basename(current));
      current = parent;
    }
  }
}

/**
 * Whether `child` is `parent` or lies under it (both as given: pass real paths).
 * @example isWithin('/lake/gold/t', '/lake/gold/t/part=1/f.parquet') // => true
 */
export function isWithin(parent: string, child: string): boolean {
  const rel = path.relative(parent, child);
  return rel === '' || (!rel.startsWith(`..${path.sep}`) && rel !== '..' && !path.isAbsolute(rel));
}

/**
 * Throws unless the real path of `target` lies inside the real path of `folder`; `what` names it
 * in the error. Returns the real path of `target`.
 * @example assertInside('/lake/gold/t', '/lake/gold/t/part=1', 'partition folder')
 */
export function assertInside(folder: string, target: string, what: string): string {
  const realFolder = realPath(folder);
  const realTarget = realPath(target);
  if (!isWithin(realFolder, realTarget)) {
    throw new Error(`${what} ${target} resolves to ${realTarget}, outside ${folder} (a symlink leads out of it): refused`);
  }
  return realTarget;
}

/**
 * Throws if the folder `p` is itself a symlink (a table folder must be a real folder, or its writes
 * and a vacuum's deletes would land where the link points).
 * @example assertNotSymlink('/lake/gold/linked', 'table folder') // throws when linked -> /elsewhere
 */
export function assertNotSymlink(p: string, what: string): void {
  let isLink = false;
  try {
    isLink = lstatSync(p).isSymbolicLink();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  if (isLink) throw new Error(`${what} ${p} is a symlink to ${realPath(p)}: refused (winlake writes and deletes only inside real table folders)`);
}
