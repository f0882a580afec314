import '@ton/test-utils';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { Blockchain, SandboxContract, TreasuryContract } from '@ton/sandbox';
import { Address, Contract, toNano } from '@ton/core';
import type { NetworkProvider } from '@ton/blueprint';
import {
    NO_QUOTE,
    CocoonRoot, Worker, ClientEscrow, keyFromSeed, publicKeyToBigInt, signStatement, signReceipt, signedReceiptCell,
    workerAddress, escrowAddress, STATUS_ACTIVE, ESCROW_OPEN, ESCROW_CLOSING, WORKER_STORAGE_RESERVE, ESCROW_STORAGE_RESERVE,
} from '../src/sdk';
import { run as deployRoot } from '../scripts/deployRoot';
import { run as registerWorker } from '../scripts/registerWorker';
import { run as setPrice } from '../scripts/setPrice';
import { run as setEndpoint } from '../scripts/setEndpoint';
import { run as openEscrow } from '../scripts/openEscrow';
import { run as claim } from '../scripts/claim';
import { run as closeEscrow } from '../scripts/closeEscrow';
import { run as setClientKey } from '../scripts/setClientKey';
import { run as status } from '../scripts/status';
import { run as pause } from '../scripts/pause';
import { run as unpause } from '../scripts/unpause';
import { run as setVerifierQuorum } from '../scripts/setVerifierQuorum';
import { run as dropInactive } from '../scripts/dropInactive';
import { run as propose } from '../scripts/propose';
import { run as execute } from '../scripts/execute';
import { run as cancel } from '../scripts/cancel';
import { run as setParams } from '../scripts/setParams';
import { run as addMeasurement } from '../scripts/addMeasurement';
import { run as setGovernanceDelay } from '../scripts/setGovernanceDelay';

const sha = (s: string) => createHash('sha256').update(s).digest();
const MODEL = 'llama-3-8b-instruct';
const MEASUREMENT = BigInt('0x' + sha('cocoon-worker-image:v1|' + MODEL).toString('hex'));
const hex = (v: bigint) => '0x' + v.toString(16).padStart(64, '0');
const NOW = 1_800_000_000;

/** A NetworkProvider backed by @ton/sandbox: open -> openContract, sender -> a treasury, ui -> scripted. */
function sandboxProvider(chain: Blockchain, wallet: SandboxContract<TreasuryContract>, answers: string[] = []) {
    const out: string[] = [];
    const asked: string[] = [];
    const ui = {
        write: (m: string) => out.push(m),
        prompt: async () => true,
        input: async (m: string) => {
            asked.push(m);
            if (!answers.length) throw new Error(`unexpected prompt: ${m}`);
            return answers.shift()!;
        },
        inputAddress: async (m: string) => Address.parse(await ui.input(m)),
        choose: async <T>(_m: string, choices: T[]) => choices[0],
        setActionPrompt: () => undefined,
        clearActionPrompt: () => undefined,
    };
    const provider = {
        network: () => 'custom',
        explorer: () => 'tonviewer',
        sender: () => wallet.getSender(),
        open: <T extends Contract>(c: T) => chain.openContract(c),
        ui: () => ui,
        sandbox: chain,
        isContractDeployed: async (a: Address) => (await chain.getContract(a)).accountState?.type === 'active',
    } as unknown as NetworkProvider;
    return { provider, out, asked, text: () => out.join('\n') };
}

describe('scripts against the sandbox', () => {
    let chain: Blockchain;
    let owner: SandboxContract<TreasuryContract>;
    let operator: SandboxContract<TreasuryContract>;
    let client: SandboxContract<TreasuryContract>;
    let dir: string;
    const verifier = keyFromSeed(sha('scripts:verifier'));
    const tee = keyFromSeed(sha('scripts:tee'));

    beforeEach(async () => {
        chain = await Blockchain.create();
        chain.now = NOW;
        owner = await chain.treasury('owner');
        operator = await chain.treasury('operator');
        client = await chain.treasury('client');
        dir = mkdtempSync(join(tmpdir(), 'cocoon-scripts-'));
        delete process.env.COCOON_ROOT;
    });

    async function deploy(): Promise<Address> {
        const p = sandboxProvider(chain, owner);
        await deployRoot(p.provider, ['networkId=9', 'minStake=20', 'protocolFeeBps=400', 'governanceDelay=3600', `measurement=${hex(MEASUREMENT)}`, `model=${MODEL}`, `verifierKey=${hex(publicKeyToBigInt(verifier.publicKey))}`]);
        const line = p.out.find((l) => l.startsWith('export COCOON_ROOT='));
        expect(line).toBeDefined();
        return Address.parse(line!.split('=')[1]);
    }

    function attestationFile(root: Address, expiresAt = NOW + 86400): string {
        const a = signStatement({
            root, operator: operator.address, expiresAt, issuedAt: NOW, teeKey: publicKeyToBigInt(tee.publicKey),
            measurement: MEASUREMENT, tlsKeyHash: 7n, ...NO_QUOTE,
        }, verifier);
        const f = join(dir, `attestation-${expiresAt}.json`);
        writeFileSync(f, JSON.stringify({ root: root.toString(), operator: operator.address.toString(), attestationBoc: a.cell.toBoc().toString('base64') }));
        return f;
    }

    it('deployRoot deploys and whitelists, and prints the root', async () => {
        const root = await deploy();
        const r = chain.openContract(CocoonRoot.fromAddress(root));
        expect((await r.getOwner()).equals(owner.address)).toBe(true);
        expect(await r.getNetworkId()).toBe(9n);
        const params = await r.getParams();
        expect(params.minStake).toBe(toNano('20'));
        expect(params.protocolFeeBps).toBe(400n);
        expect(await r.getModelOf(MEASUREMENT)).toBe(MODEL);
        expect(await r.getIsVerifierKey(publicKeyToBigInt(verifier.publicKey))).toBe(true);
    });

    it('registerWorker, setPrice, setEndpoint, openEscrow, claim, closeEscrow and status run end to end', async () => {
        const root = await deploy();
        process.env.COCOON_ROOT = root.toString();

        // registerWorker: file as an argument, stake asked through the UI
        const reg = sandboxProvider(chain, operator, ['100']);
        await registerWorker(reg.provider, [`file=${attestationFile(root)}`]);
        expect(reg.asked).toEqual(['Stake to bond (TON; 0 to re-attest only):']);
        const worker = chain.openContract(Worker.fromAddress(await workerAddress(root, operator.address)));
        const info = await worker.getInfo();
        expect(info.status).toBe(STATUS_ACTIVE);
        expect(info.stake).toBe(toNano('100'));
        expect((await chain.getContract(worker.address)).balance).toBe(toNano('100') + WORKER_STORAGE_RESERVE);
        expect(reg.text()).toContain('100 TON');

        await setPrice(sandboxProvider(chain, operator).provider, ['price=0.25']);
        expect((await worker.getInfo()).prices).toMatchObject({ prompt: toNano('0.25'), cached: toNano('0.25'), completion: toNano('0.25') });
        // per class: the classes not given take price=
        await setPrice(sandboxProvider(chain, operator).provider, ['price=0.25', 'cached=0.05', 'completion=0.5']);
        expect((await worker.getInfo()).prices).toMatchObject({ prompt: toNano('0.25'), cached: toNano('0.05'), completion: toNano('0.5') });
        await setEndpoint(sandboxProvider(chain, operator).provider, ['endpoint=https://node.example:8443']);
        expect((await worker.getInfo()).endpoint).toBe('https://node.example:8443');

        // openEscrow by operator address
        const oe = sandboxProvider(chain, client);
        await openEscrow(oe.provider, [`operator=${operator.address.toString()}`, 'deposit=3', 'maxPrice=0.5', 'clientKey=0x' + 'ab'.repeat(32)]);
        const escrowAddr = await escrowAddress(worker.address, client.address);
        const escrow = chain.openContract(ClientEscrow.fromAddress(escrowAddr));
        const st = await escrow.getState();
        expect(st.state).toBe(ESCROW_OPEN);
        expect(st.deposit).toBe(toNano('3'));
        expect(st.clientKey).toBe(BigInt('0x' + 'ab'.repeat(32)));
        expect((await chain.getContract(escrowAddr)).balance).toBe(toNano('3') + ESCROW_STORAGE_RESERVE);
        expect(oe.text()).toContain(`cocoon api-key --worker ${worker.address.toString({ testOnly: true })}`);
        // the client rotates its key (a leaked API key is revoked with it)
        const sk = sandboxProvider(chain, client);
        await setClientKey(sk.provider, [`escrow=${escrowAddr.toString()}`, 'clientKey=0x' + 'cd'.repeat(32)]);
        expect(await escrow.getClientKey()).toBe(BigInt('0x' + 'cd'.repeat(32)));
        expect(sk.text()).toContain('0x' + 'cd'.repeat(32));

        // claim from the worker node's cocoon_receipt JSON (the whole response)
        const s = signReceipt({ escrow: escrowAddr, epoch: st.epoch, seq: 1n, promptTokens: 1_000_000n, cachedTokens: 200_000n, completionTokens: 800_000n, cost: toNano('0.5') }, tee);
        const receiptFile = join(dir, 'response.json');
        writeFileSync(receiptFile, JSON.stringify({
            id: 'chatcmpl-1', object: 'chat.completion',
            cocoon_receipt: {
                escrow: escrowAddr.toString(), epoch: st.epoch.toString(), seq: '1',
                promptTokens: '1000000', cachedTokens: '200000', completionTokens: '800000', tokens: '2000000', cost: toNano('0.5').toString(),
                requestTokens: '2000000', requestCost: toNano('0.5').toString(), signature: s.signature.toString('hex'),
                boc: signedReceiptCell(s).toBoc().toString('base64'),
            },
        }));
        const opBefore = (await chain.getContract(operator.address)).balance;
        const cl = sandboxProvider(chain, operator);
        await claim(cl.provider, [`file=${receiptFile}`]);
        const st2 = await escrow.getState();
        expect(st2.paid).toBe(toNano('0.5'));
        expect(st2.deposit).toBe(toNano('2.5'));
        expect(st2.lastSeq).toBe(1n);
        const fee = (toNano('0.5') * 400n) / 10000n;
        expect(st2.feesOwed).toBe(fee);
        const opGain = (await chain.getContract(operator.address)).balance - opBefore;
        expect(opGain).toBeLessThan(toNano('0.5') - fee);
        expect(opGain).toBeGreaterThan(toNano('0.5') - fee - toNano('0.01'));
        expect(cl.text()).toContain('0.48 TON'); // to operator: 0.5 - 4%
        expect(cl.text()).toContain('1000000 prompt, 200000 cached, 800000 completion');

        // the same receipt again is refused before anything is sent
        await expect(claim(sandboxProvider(chain, operator).provider, [`file=${receiptFile}`])).rejects.toThrow(/not newer than the last settled 1/);

        await closeEscrow(sandboxProvider(chain, client).provider, [`worker=${worker.address.toString()}`]);
        expect((await escrow.getState()).state).toBe(ESCROW_CLOSING);

        const stp = sandboxProvider(chain, client);
        await status(stp.provider, [`operator=${operator.address.toString()}`, `escrow=${escrowAddr.toString()}`]);
        const text = stp.text();
        expect(text).toMatch(/totalStake\s+100 TON/);
        expect(text).toMatch(/minStake\s+20 TON/);
        expect(text).toMatch(/status\s+active/);
        expect(text).toMatch(/prices\s+prompt 0.25 \/ cached 0.05 \/ completion 0.5 TON per 1M tokens/);
        expect(text).toMatch(/caps\s+prompt 0.5 \/ cached 0.5 \/ completion 0.5 TON per 1M tokens/);
        expect(text).toMatch(/state\s+closing/);
        expect(text).toMatch(/deposit\s+2.5 TON/);
    });

    it('scripts refuse bad input with a clear message', async () => {
        const root = await deploy();
        await expect(registerWorker(sandboxProvider(chain, operator).provider, [`root=${root.toString()}`, `file=${attestationFile(root, NOW - 5)}`, 'stake=100']))
            .rejects.toThrow(/attestation: expired at/);
        await expect(registerWorker(sandboxProvider(chain, operator).provider, [`root=${root.toString()}`, `file=${attestationFile(root)}`, 'stake=-3']))
            .rejects.toThrow('stake: "-3" is not a TON amount');
        await expect(registerWorker(sandboxProvider(chain, operator).provider, ['root=nope', 'file=x'])).rejects.toThrow('root: "nope" is not a TON address');
        await expect(pause(sandboxProvider(chain, operator).provider, [`root=${root.toString()}`])).rejects.toThrow(/only the root owner/);
        const p = sandboxProvider(chain, owner, [root.toString()]);
        await pause(p.provider, []);
        expect(p.asked).toEqual(['CocoonRoot address (or set COCOON_ROOT):']);
        expect(p.text()).toBe('Network paused: false -> true');
        await unpause(sandboxProvider(chain, owner).provider, [`root=${root.toString()}`]);
        expect(await chain.openContract(CocoonRoot.fromAddress(root)).getPaused()).toBe(false);
        await expect(setVerifierQuorum(sandboxProvider(chain, owner).provider, [`root=${root.toString()}`, 'quorum=17'])).rejects.toThrow(/within 1..16, got 17/);
    });

    it('setVerifierQuorum (owner) and dropInactive (anyone, on an expired worker) run end to end', async () => {
        const root = await deploy();
        const q = sandboxProvider(chain, owner);
        await setVerifierQuorum(q.provider, [`root=${root.toString()}`, 'quorum=2']);
        expect(q.text()).toContain('verifier quorum 1 -> 2');
        expect(await chain.openContract(CocoonRoot.fromAddress(root)).getVerifierQuorum()).toBe(2n);
        // lowering it is proposed, and executed (by anyone) after the delay
        const lower = sandboxProvider(chain, owner);
        await setVerifierQuorum(lower.provider, [`root=${root.toString()}`, 'quorum=1']);
        expect(lower.text()).toContain('Lowering the quorum adds power: the change is proposed');
        const id = /execute id=(0x[0-9a-f]{64})/.exec(lower.text())![1];
        expect(await chain.openContract(CocoonRoot.fromAddress(root)).getVerifierQuorum()).toBe(2n);
        chain.now = NOW + 3600;
        await execute(sandboxProvider(chain, client).provider, [`root=${root.toString()}`, `id=${id}`]);
        expect(await chain.openContract(CocoonRoot.fromAddress(root)).getVerifierQuorum()).toBe(1n);
        await registerWorker(sandboxProvider(chain, operator).provider, [`root=${root.toString()}`, `file=${attestationFile(root)}`, 'stake=100']);
        const worker = await workerAddress(root, operator.address);
        // an active worker cannot be dropped; once its lease is over, anyone can
        await expect(dropInactive(sandboxProvider(chain, client).provider, [`root=${root.toString()}`, `worker=${worker.toString()}`])).rejects.toThrow(/the worker is active/);
        chain.now = NOW + 86400;
        const d = sandboxProvider(chain, client);
        await dropInactive(d.provider, [`root=${root.toString()}`, `worker=${worker.toString()}`]);
        expect(d.text()).toMatch(/100 TON unbonding, withdrawable at/);
        expect(await chain.openContract(CocoonRoot.fromAddress(root)).getTotalStake()).toBe(0n);
    });

    it('governance: propose, status with the time left, execute (too early, then anyone), cancel; setParams proposes what adds power', async () => {
        const root = await deploy();
        const r = chain.openContract(CocoonRoot.fromAddress(root));
        const rootArg = `root=${root.toString()}`;
        const m2 = BigInt('0x' + sha('qwen').toString('hex'));

        const am = sandboxProvider(chain, owner);
        await addMeasurement(am.provider, [rootArg, `measurement=${hex(m2)}`, 'model=qwen-2.5-72b']);
        expect(am.text()).toContain(`Proposed: addMeasurement ${hex(m2)} = qwen-2.5-72b`);
        const addId = /execute id=(0x[0-9a-f]{64})/.exec(am.text())![1];
        expect(am.text()).toContain('Anyone can execute it from 2027-01-15T09:00:00Z');

        // setParams: a lower fee acts at once, a higher one is proposed
        const lowerFee = sandboxProvider(chain, owner);
        await setParams(lowerFee.provider, [rootArg, 'protocolFeeBps=300']);
        expect(lowerFee.text()).toContain('Parameters updated:');
        expect((await r.getParams()).protocolFeeBps).toBe(300n);
        const raise = sandboxProvider(chain, owner);
        await setParams(raise.provider, [rootArg, 'protocolFeeBps=800']);
        expect(raise.text()).toContain('Changing protocolFeeBps adds power');
        expect(raise.text()).toContain('Proposed: setParams: protocolFeeBps 300 -> 800');
        const raiseId = /execute id=(0x[0-9a-f]{64})/.exec(raise.text())![1];
        expect((await r.getParams()).protocolFeeBps).toBe(300n);

        const delay = sandboxProvider(chain, owner);
        await setGovernanceDelay(delay.provider, [rootArg, 'delay=7200']);
        const delayId = /execute id=(0x[0-9a-f]{64})/.exec(delay.text())![1];
        await expect(propose(sandboxProvider(chain, owner).provider, [rootArg, 'change=upgradeRoot', 'version=1', 'code=/nonexistent'])).rejects.toThrow(/code: cannot read/);
        await expect(propose(sandboxProvider(chain, owner).provider, [rootArg, 'change=setPaused'])).rejects.toThrow(/"setPaused" is not a change that is proposed/);
        await expect(propose(sandboxProvider(chain, client).provider, [rootArg, 'change=addVerifierKey', 'key=0x' + '11'.repeat(32)])).rejects.toThrow(/only the root owner/);

        chain.now = NOW + 1800;
        const st = sandboxProvider(chain, client);
        await status(st.provider, [rootArg]);
        expect(st.text()).toMatch(/governanceDelay\s+1h/);
        expect(st.text()).toContain('pending proposals: 3');
        expect(st.text()).toContain(`addMeasurement ${hex(m2)} = qwen-2.5-72b`);
        expect(st.text()).toContain('setParams: protocolFeeBps 300 -> 800');
        expect(st.text()).toContain('setGovernanceDelay 7200 s');
        expect(st.text()).toMatch(/executable\s+in 30m/);

        await expect(execute(sandboxProvider(chain, client).provider, [rootArg, `id=${addId}`])).rejects.toThrow(/too early/);
        await expect(cancel(sandboxProvider(chain, client).provider, [rootArg, `id=${raiseId}`])).rejects.toThrow(/only the root owner/);
        const c = sandboxProvider(chain, owner);
        await cancel(c.provider, [rootArg, `id=${raiseId}`]);
        expect(c.text()).toContain('Cancelled');

        chain.now = NOW + 3600;
        const ex = sandboxProvider(chain, client);
        await execute(ex.provider, [rootArg, `id=${addId}`]);
        expect(ex.text()).toContain(`Executed ${addId}: addMeasurement`);
        expect(await r.getModelOf(m2)).toBe('qwen-2.5-72b');
        await execute(sandboxProvider(chain, client).provider, [rootArg, `id=${delayId}`]);
        expect(await r.getGovernanceDelay()).toBe(7200n);
        await expect(execute(sandboxProvider(chain, client).provider, [rootArg, `id=${raiseId}`])).rejects.toThrow(/no pending proposal/);
        const st2 = sandboxProvider(chain, client);
        await status(st2.provider, [rootArg]);
        expect(st2.text()).toContain('pending proposals: none');
        expect(st2.text()).toMatch(/governanceDelay\s+2h/);
    });
});
