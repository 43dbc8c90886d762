export { cimDataframe } from './dataframe.js';
export { parseTransforms, TransformError, type Transform, type TransformStep } from './transform.js';
export {
  applyPack,
  checkPackAgainstOssem,
  formatPack,
  listPacks,
  loadPack,
  loadPacks,
  packSourceFilter,
  savePack,
  validatePack,
  PACKS_DIR,
  PIPELINE_COLUMNS,
  type MappingPack,
  type PackExtension,
  type PackOssemRef,
  type PackSource,
} from './pack.js';
export {
  ENVELOPE_RENAMES,
  generatePackTransforms,
  ossemColumns,
  ossemFields,
  readOssemDictionary,
  toSnakeCase,
  type GeneratedTransforms,
  type GeneratorEvent,
  type OssemDictionary,
  type OssemField,
} from './ossem.js';
export {
  buildPacks,
  ossemDictionaryFor,
  ENVELOPE_REASONS,
  PROCESS_NAME_EXPR,
  PROCESS_NAME_STAGING,
  PROCESS_PACK_TRANSFORMS,
  REFERENCE_PROCESS_TRANSFORMS,
} from './generate-packs.js';
export {
  buildSilver,
  createSilverSink,
  type BuildSilverOptions,
  type SilverBatchInfo,
  type SilverResult,
  type SilverTableResult,
} from './build-silver.js';
