export * from './types';
export { readFactsFile, parseFactsFile } from './file';
