// Proposes whitelisting a TEE measurement (worker image + model) with its model name (owner only);
// anyone executes it after the governance delay.
// npx blueprint run addMeasurement --testnet --tonconnect measurement=0x<64 hex> model=llama-3-8b-instruct
import { NetworkProvider } from '@ton/blueprint';
import { scriptContext, reportProposed } from '../src/sdk';

export async function run(provider: NetworkProvider, args: string[]) {
    const ctx = await scriptContext(provider, args, ['measurement', 'model']);
    const measurement = await ctx.args.uint256('measurement', 'Measurement (0x + 64 hex):');
    const model = await ctx.args.text('model', 'Model name:');
    reportProposed(ctx, await ctx.ops.proposeAddMeasurement(measurement, model));
}
