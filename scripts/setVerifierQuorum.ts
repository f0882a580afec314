// Governance: how many distinct trusted verifiers must sign an attestation statement (1..16).
// Workers already attested keep their statement until it expires; renewals need the new quorum.
// npx blueprint run setVerifierQuorum --testnet --tonconnect quorum=2
import { NetworkProvider } from '@ton/blueprint';
import { scriptContext } from '../src/sdk';

export async function run(provider: NetworkProvider, args: string[]) {
    const { ops, args: a, write, addr } = await scriptContext(provider, args, ['quorum']);
    const quorum = Number(await a.integer('quorum', 'Verifier quorum (1..16):'));
    const r = await ops.setVerifierQuorum(quorum);
    write(`Root ${addr(ops.root.address)}: verifier quorum ${r.before} -> ${r.after}`);
}
