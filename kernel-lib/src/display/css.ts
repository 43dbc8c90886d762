/**
 * The stylesheet every winlake HTML output carries, scoped by the `wl-` class prefix.
 *
 * Colours are JupyterLab's theme variables (so light, dark and high-contrast themes all read well),
 * each with a light fallback for places without them (nbconvert HTML, VS Code, GitHub's viewer).
 * Alignment and wrapping rules are `!important`: JupyterLab's `.jp-RenderedHTMLCommon` table rules
 * (right-aligned cells, zebra rows) have the same specificity as ours and are loaded later in some
 * front ends, and an `!important` author rule is the one thing a non-important rule cannot beat.
 */
const FG = 'var(--jp-content-font-color1,#1f2328)';
const MUTED = 'var(--jp-content-font-color2,#57606a)';
const FAINT = 'var(--jp-content-font-color3,#6e7781)';
const BORDER = 'var(--jp-border-color2,#d0d7de)';
const BG = 'var(--jp-layout-color0,#ffffff)';
const HEAD_BG = 'var(--jp-layout-color2,#eaeef2)';
const ACCENT = 'var(--jp-brand-color1,#0550ae)';
const MONO = 'var(--jp-code-font-family,ui-monospace,SFMono-Regular,Menlo,Consolas,monospace)';

/** CSS for tables, nested values, schema trees, scan reports and process trees. */
export const DISPLAY_CSS = `<style>
.wl-table{max-width:100%;overflow-x:auto;color:${FG}}
.wl-frame{border-collapse:separate!important;border-spacing:0;font:12px/1.35 ${MONO};color:${FG};background:${BG};table-layout:auto!important;width:auto!important}
.wl-frame th,.wl-frame td{border:0!important;border-right:1px solid ${BORDER}!important;border-bottom:1px solid ${BORDER}!important;padding:2px 6px!important;vertical-align:top!important;text-align:left!important;max-width:40em;color:${FG}!important;background:${BG}!important}
.wl-frame tr:first-child th,.wl-frame thead tr th{border-top:1px solid ${BORDER}!important}
.wl-frame th:first-child,.wl-frame td:first-child{border-left:1px solid ${BORDER}!important}
.wl-frame th{background:${HEAD_BG}!important;font-weight:600;white-space:nowrap!important;position:sticky;top:0;z-index:2}
.wl-frame td.wl-n,.wl-frame th.wl-n{text-align:right!important;white-space:nowrap!important;font-variant-numeric:tabular-nums}
.wl-frame td.wl-t{white-space:nowrap!important}
.wl-frame td.wl-s{white-space:pre-wrap!important;word-break:normal;overflow-wrap:anywhere}
.wl-frame .wl-sticky{position:sticky;left:0;z-index:1;box-shadow:1px 0 0 ${BORDER}}
.wl-frame th.wl-sticky{z-index:3}
.wl-type{color:${FAINT}!important;font-weight:normal;font-size:11px}
.wl-null{color:${FAINT};font-style:italic}
.wl-nest summary{cursor:pointer;white-space:nowrap;overflow:hidden;text-overflow:ellipsis;max-width:40em;list-style-position:inside}
.wl-nest summary::marker{color:${FAINT}}
.wl-nest[open]>summary{color:${FAINT}}
.wl-kv{list-style:none;margin:0;padding-left:1.2em;white-space:normal}
.wl-kv b,.wl-key{color:${ACCENT};font-weight:normal}
.wl-cut{text-decoration:underline dotted ${FAINT}}
.wl-caption{font:12px var(--jp-ui-font-family,sans-serif);color:${MUTED};margin:4px 0}
.wl-schema,.wl-schema ul{list-style:none;padding-left:1.2em;margin:0;font:12px/1.5 ${MONO};color:${FG}}
.wl-schema summary{cursor:pointer}
.wl-ptree,.wl-ptree ul{list-style:none;padding-left:1.4em;margin:0;font:12px/1.5 ${MONO};color:${FG}}
.wl-ptree .wl-cmd{color:${MUTED}}
.wl-ptree .wl-time{color:${FAINT}}
.wl-scan{font:12px var(--jp-ui-font-family,sans-serif);color:${FG}}
.wl-scan .wl-total td{font-weight:bold}
.wl-error{font:12px/1.4 ${MONO};color:var(--jp-error-color1,#cf222e);white-space:pre-wrap}
</style>`;
