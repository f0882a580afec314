export * from './types';
export * from './tokens';
export * from './openaiCompatible';
export * from './devBackend';
export * from './pool';
