// Whitelists a TEE measurement (worker image + model) and names its model (owner only).
// npx blueprint run addMeasurement --testnet --tonconnect measurement=0x<64 hex> model=llama-3-8b-instruct
import { NetworkProvider } from '@ton/blueprint';
import { scriptContext, formatHex256 } from '../src/sdk';

export async function run(provider: NetworkProvider, args: string[]) {
    const { ops, args: a, write } = await scriptContext(provider, args, ['measurement', 'model']);
    const measurement = await a.uint256('measurement', 'Measurement (0x + 64 hex):');
    const model = await a.text('model', 'Model name:');
    const r = await ops.addMeasurement(measurement, model);
    write(`Measurement ${formatHex256(measurement)}: ${r.before ?? '(not whitelisted)'} -> ${r.after}`);
}
