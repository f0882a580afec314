// One import for every generated wrapper: the contract classes, message and struct codecs, and the
// contracts' constants (exit codes, tags). The root's wrapper carries every shared type.
export * from '../../wrappers/CocoonRoot';
export { Worker } from '../../wrappers/Worker';
export {
    ClientEscrow,
    type EscrowState,
    type EscrowBook,
    type EscrowTerms,
    storeEscrowState,
    loadEscrowState,
    storeEscrowTerms,
    loadEscrowTerms,
} from '../../wrappers/ClientEscrow';
