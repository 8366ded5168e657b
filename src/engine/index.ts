// The engine's public face. Each part adds its `export *` line here.
export * from './api.js';
export * from './clock.js';
