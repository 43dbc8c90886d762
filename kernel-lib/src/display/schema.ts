import type { SchemaField } from '../frame/index.js';
import { escapeHtml } from './escape.js';
import { DISPLAY_CSS } from './css.js';

/**
 * Renders a schema as a collapsible HTML tree: structs, lists and maps are `<details>` elements
 * whose `<summary>` names the field and its kind; leaves show their SQL type.
 *
 * @example tslab.display.html(schemaToHtml(await df.schema()));
 */
export function schemaToHtml(fields: readonly SchemaField[], options: { openDepth?: number } = {}): string {
  const openDepth = options.openDepth ?? 1;
  const node = (f: SchemaField, depth: number): string => {
    const name = `<code>${escapeHtml(f.name)}</code>`;
    if (f.kind === 'scalar' || f.children.length === 0) {
      return `<li>${name}: <span class="wl-type">${escapeHtml(f.type)}</span></li>`;
    }
    const summary = `${name}: <span class="wl-type">${f.kind} (${f.children.length})</span>`;
    const open = depth < openDepth ? ' open' : '';
    return `<li><details${open} title="${escapeHtml(f.type)}"><summary>${summary}</summary><ul>${f.children
      .map((c) => node(c, depth + 1))
      .join('')}</ul></details></li>`;
  };
  return `${DISPLAY_CSS}<ul class="wl-schema">${fields.map((f) => node(f, 0)).join('')}</ul>`;
}
