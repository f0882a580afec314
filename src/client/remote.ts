// Connecting the client to testnet or mainnet: a toncenter TonClient, a v4R2 wallet from a
// mnemonic, and the SDK's RemoteChain (sends are confirmed by polling getters).
import { Address } from '@ton/core';
import { TonClient, WalletContractV4 } from '@ton/ton';
import { mnemonicToPrivateKey } from '@ton/crypto';
import { RemoteChain } from '../sdk';
import { ClientError } from './errors';
import type { WalletSender } from './types';

export const TONCENTER = {
    testnet: 'https://testnet.toncenter.com/api/v2/jsonRPC',
    mainnet: 'https://toncenter.com/api/v2/jsonRPC',
} as const;

export interface RemoteConnection {
    chain: RemoteChain;
    client: TonClient;
    wallet: WalletSender;
}

export async function connectRemote(o: { network: 'testnet' | 'mainnet'; mnemonic: string | undefined; mnemonicEnv: string; endpoint?: string; apiKey?: string }): Promise<RemoteConnection> {
    if (!o.mnemonic) {
        throw new ClientError('CONFIG', `${o.mnemonicEnv} is not set`, `export ${o.mnemonicEnv}="word1 … word24" (a v4R2 wallet funded on ${o.network}).`);
    }
    const words = o.mnemonic.trim().split(/\s+/);
    if (words.length !== 24) throw new ClientError('CONFIG', `${o.mnemonicEnv} has ${words.length} words`, 'it must hold the 24 words of the wallet, separated by spaces.');
    const keys = await mnemonicToPrivateKey(words);
    const w = WalletContractV4.create({ workchain: 0, publicKey: keys.publicKey });
    const client = new TonClient({ endpoint: o.endpoint ?? TONCENTER[o.network], apiKey: o.apiKey });
    const opened = client.open(w);
    const sender = opened.sender(keys.secretKey);
    const wallet: WalletSender = { address: w.address, send: (args) => sender.send(args) };
    return { chain: new RemoteChain(o.network, client), client, wallet };
}

export function parseAddressArg(name: string, v: string | undefined): Address {
    if (!v) throw new ClientError('CONFIG', `${name} is required`, `pass ${name} <address>.`);
    try {
        return Address.parse(v);
    } catch {
        throw new ClientError('CONFIG', `${name}: "${v}" is not a TON address`, 'use the EQ…/UQ…/kQ… form or 0:<64 hex>.');
    }
}
