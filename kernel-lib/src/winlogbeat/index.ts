/**
 * The winlogbeat room: parsing stages (raw, flatten, message fields), the event simulator and the
 * layout converters (NXLog, winlogbeat 6, evtx_dump → winlogbeat 7).
 */
export { addIngestMeta, parseWinlogbeat, RAW_STAGE_COLUMNS } from './parse.js';
export { flattenWinlogbeat, PATH_SEPARATOR } from './flatten.js';
export { messageFieldsSql, messageKeysSql, messageLinesSql } from './message.js';
export {
  simulateEvents,
  simulateNdjson,
  simulateWithTruth,
  SCENARIOS,
  SCENARIO_TECHNIQUE,
  type ScenarioName,
  type SimulateOptions,
  type SimulatedEvent,
} from './simulate.js';
export { convertDocs, detectLayout, readEventFiles, toWinlogbeat7, type ConvertOptions, type SourceLayout } from './convert.js';
export { JsonObjectSplitter, readJsonDocuments, tarFiles, type SourcedDocument } from './files.js';
export { evtxPython, isEvtxPath, readEvtxDocuments } from './evtx.js';
export { Random } from './prng.js';
export type { WinlogbeatDoc, WinlogbeatAgent, WinlogbeatEventMeta, WinlogSection } from './types.js';
