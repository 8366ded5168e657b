/**
 * Derived per-request columns: the writer stores the results of the metric formulas (src/metrics/formulas.ts,
 * a leaf with no imports: the one place they are written) in `requests`, so SQL users need not re-derive them.
 * See that module for each formula and the effective first-token and end times of rows with chunks.
 */
export { deriveRequest, e2eOf, lagOf, maxStallOf, tpotOf, ttftOf, type Derived, type RawTimes } from '../metrics/formulas.js';
