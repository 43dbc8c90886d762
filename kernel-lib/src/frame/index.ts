export { Frame, formatCell, setFramePresenter, type FramePresenter, type Presentable, type ScanSource, type ScanReport, type OrderKey } from './frame.js';
export { col, lit, sqlExpr, Expr, renderExpr, conjuncts, type ExprNode, type ComparisonOp } from './expr.js';
export { schemaTree, fieldFromDuckDBType, type SchemaField } from './schema.js';
