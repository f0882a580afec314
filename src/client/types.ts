import type { Address, Sender } from '@ton/core';

/** A wallet the client signs with: a Sender that knows its address. */
export type WalletSender = Sender & { address: Address };
