import type { Config } from 'jest';

const config: Config = {
    preset: 'ts-jest',
    testEnvironment: 'node',
    testPathIgnorePatterns: ['/node_modules/', '/dist/'],
    testTimeout: 120_000,
    transform: { '^.+\\.tsx?$': ['ts-jest', { isolatedModules: true }] },
};

export default config;
