// `cocoon gateway`: one local OpenAI endpoint in front of the Cocoon network (docs/GATEWAY.md).
export * from './config';
export * from './errors';
export * from './policy';
export * from './budget';
export * from './receiptStore';
export * from './registry';
export * from './sse';
export * from './body';
export * from './pipeline';
export * from './metrics';
export * from './status';
export * from './gateway';
