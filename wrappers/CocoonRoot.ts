// The Tact-generated wrapper, written by `npx blueprint build --all` (npm test and npm start run it first).
export * from '../build/CocoonRoot/tact_CocoonRoot';
