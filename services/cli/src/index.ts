export { main } from './main';
export type { CommandIO } from './command-io';
