export * from './types';
export { readFactsFile, parseFactsFile } from './file';
export { detectFormat, parseFacts } from './parse';
export { validateRequest, requestPrompt } from './validate';
