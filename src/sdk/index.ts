export * from './contracts';
export * from './ed25519';
export * from './attestation';
export * from './receipt';
export * from './addresses';
export * from './errors';
export * from './defaults';
export * from './chain';
