// Removes a measurement from the whitelist (owner only). Workers already attested with it keep
// serving until deactivateWorker or their attestation expires.
// npx blueprint run removeMeasurement --testnet --tonconnect measurement=0x<64 hex>
import { NetworkProvider } from '@ton/blueprint';
import { scriptContext, formatHex256 } from '../src/sdk';

export async function run(provider: NetworkProvider, args: string[]) {
    const { ops, args: a, write } = await scriptContext(provider, args, ['measurement']);
    const measurement = await a.uint256('measurement', 'Measurement (0x + 64 hex):');
    const r = await ops.removeMeasurement(measurement);
    write(`Measurement ${formatHex256(measurement)} (${r.before}) removed from the whitelist`);
}
