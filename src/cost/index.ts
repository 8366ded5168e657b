/**
 * Cost: the price table (workloads/prices.yaml, with command-line overrides) and the cost and energy figures
 * of a run. `metrics`' run summary calls `costFigures`/`counterEnergy`; replay prices the machines it records
 * with `PriceTable.resolve`.
 */
export {
  DEFAULT_PRICES_FILE,
  PRICE_KINDS,
  PriceTable,
  loadPrices,
  parsePrices,
  type Price,
  type PriceKind,
  type MachinePrice,
  type GpuPrice,
  type ResolvedPrice,
} from './prices.js';
export { counterEnergy, costFigures, type CounterPoint, type CostInput, type CostFigures, type PoolCost } from './compute.js';

/** Power sources whose `energy_j` is a measured cumulative energy (counter deltas or trapezoid of sampled watts). */
export const MEASURED_POWER_SOURCES: readonly string[] = ['nvidia-smi', 'dcgm', 'prometheus'];
