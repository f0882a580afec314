// The root contract's measurement whitelist (getter isMeasurementAllowed), read through the SDK.
// Kept apart from measurements.ts: it loads the generated contract wrappers (npm run build).
import { Address } from '@ton/core';
import { TonClient } from '@ton/ton';
import { Chain, CocoonRoot, RemoteChain } from '../sdk';
import { MeasurementWhitelist } from './measurements';

export class OnChainWhitelist implements MeasurementWhitelist {
    readonly source: string;
    private readonly cache = new Map<string, { allowed: boolean; until: number }>();

    /** Answers are cached `cacheMs` (default 30 s): a removal is seen that late here, never later on-chain. */
    constructor(private readonly chain: Chain, private readonly root: Address, private readonly cacheMs = 30_000) {
        this.source = `root ${root.toString()}`;
    }

    async isAllowed(measurement: Buffer): Promise<boolean> {
        const key = measurement.toString('hex');
        const hit = this.cache.get(key);
        if (hit && hit.until > Date.now()) return hit.allowed;
        let allowed: boolean;
        try {
            allowed = await this.chain.open(CocoonRoot.fromAddress(this.root)).getIsMeasurementAllowed(BigInt('0x' + key));
        } catch (e) {
            throw new Error(`cannot read the measurement whitelist of the root ${this.root.toString()}: ${(e as Error).message}`);
        }
        if (this.cache.size > 10_000) this.cache.clear();
        this.cache.set(key, { allowed, until: Date.now() + this.cacheMs });
        return allowed;
    }
}

/** The whitelist of `root` on testnet/mainnet through toncenter (`endpoint` overrides its URL). */
export function remoteWhitelist(o: { network: 'testnet' | 'mainnet'; endpoint?: string; root: Address; cacheMs?: number; apiKey?: string }): OnChainWhitelist {
    const endpoint = o.endpoint ?? (o.network === 'mainnet' ? 'https://toncenter.com/api/v2/jsonRPC' : 'https://testnet.toncenter.com/api/v2/jsonRPC');
    const chain = new RemoteChain(o.network, new TonClient({ endpoint, apiKey: o.apiKey }));
    return new OnChainWhitelist(chain, o.root, o.cacheMs);
}
