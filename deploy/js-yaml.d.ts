// js-yaml 4 is in node_modules (through eslint) without type definitions; these are the two calls used.
declare module 'js-yaml' {
  export function load(text: string, options?: { filename?: string }): unknown;
  export function loadAll(text: string, iterator?: null, options?: { filename?: string }): unknown[];
}
