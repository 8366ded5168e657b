import type { Cluster } from '../api.js';
import type { ClusterOptions } from '../cluster.js';
import type { Deployment } from '../deployment.js';
import { ConfigError } from '../../errors.js';

export function createCompatCluster(_dep: Deployment, _opts: ClusterOptions): Cluster {
  throw new ConfigError("compatibility mode 'splitwise' is not available in this build");
}
