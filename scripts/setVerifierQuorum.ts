// Governance: how many distinct trusted verifiers must sign an attestation statement (1..16).
// Raising it acts at once; lowering it is proposed and acts after the governance delay (`execute`).
// Workers already attested keep their statement until it expires; renewals need the new quorum.
// npx blueprint run setVerifierQuorum --testnet --tonconnect quorum=2
import { NetworkProvider } from '@ton/blueprint';
import { scriptContext, reportProposed } from '../src/sdk';

export async function run(provider: NetworkProvider, args: string[]) {
    const ctx = await scriptContext(provider, args, ['quorum']);
    const { ops, args: a, write, addr } = ctx;
    const quorum = Number(await a.integer('quorum', 'Verifier quorum (1..16):'));
    if (BigInt(quorum) < (await ops.root.getVerifierQuorum()) && quorum >= 1) {
        write('Lowering the quorum adds power: the change is proposed and acts after the governance delay.');
        reportProposed(ctx, await ops.proposeVerifierQuorum(quorum));
        return;
    }
    const r = await ops.setVerifierQuorum(quorum);
    write(`Root ${addr(ops.root.address)}: verifier quorum ${r.before} -> ${r.after}`);
}
