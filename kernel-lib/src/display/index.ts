/** Rich display for notebooks: HTML tables, schema trees, server-side SVG charts, process trees. */
export { escapeHtml, formatCount } from './escape.js';
export { DISPLAY_CSS } from './css.js';
export { cellClass, cellToHtml, cellToText, shortTypeName, type CellLimits } from './values.js';
export { frameToHtml, frameToText, previewFrame, previewToHtml, rowCountNotice, type TableOptions, type TablePreview } from './table.js';
export { schemaToHtml } from './schema.js';
export { errorToHtml, inspectRich } from './present.js';
export { isRecords, recordsToHtml, recordsToText, type Records } from './records.js';
export { isScanReport, scanReportText, scanReportToHtml, formatBytes } from './scan-report.js';
export {
  renderVegaLite,
  chartEventsOverTime,
  chartTopValues,
  requireColumns,
  type TimeBucket,
  type EventsOverTimeOptions,
  type TopValuesOptions,
} from './charts.js';
export { processTree, processForest, processTreeText, type ProcessTreeOptions, type ProcessNode } from './process-tree.js';
export {
  display,
  html,
  Html,
  inNotebook,
  htmlToText,
  progressDisplay,
  progressLine,
  queryStatusHtml,
  queryStatusText,
  type QueryView,
  type StreamProgress,
  type ProgressDisplay,
  type ProgressDisplayOptions,
} from './notebook.js';
