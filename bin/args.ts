// Option parsers shared by the CLIs: every number is checked, a bad one is an error naming the
// option and the value (commander prints it and exits 1), never a silent default.
import { InvalidArgumentError } from 'commander';
import { toNano } from '@ton/core';

/** An integer in [min, max], written in decimal digits only. */
export function intArg(name: string, min: number, max: number) {
    return (v: string): number => {
        if (!/^-?\d+$/.test(v.trim())) throw new InvalidArgumentError(`${name}: "${v}" is not an integer (expected ${min}..${max})`);
        const n = Number(v);
        if (!Number.isSafeInteger(n) || n < min || n > max) throw new InvalidArgumentError(`${name}: ${v} is out of range (expected ${min}..${max})`);
        return n;
    };
}

/** A TON amount (at most 9 decimals) as nanoton; `allowZero` for limits where 0 means none. */
export function tonArg(name: string, opts: { allowZero?: boolean } = {}) {
    return (v: string): bigint => {
        if (!/^\d+(\.\d{1,9})?$/.test(v.trim())) throw new InvalidArgumentError(`${name}: "${v}" is not a TON amount (e.g. 1.5, at most 9 decimals)`);
        const n = toNano(v.trim());
        if (n === 0n && !opts.allowZero) throw new InvalidArgumentError(`${name}: must be more than 0`);
        return n;
    };
}

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400, w: 7 * 86400 };

/** A duration: `90` (seconds), `90s`, `15m`, `12h`, `7d`, `2w`; within 1 s .. 10 years. Returns seconds. */
export function durationArg(name: string) {
    return (v: string): number => {
        const m = /^(\d+)([smhdw]?)$/.exec(v.trim());
        if (!m) throw new InvalidArgumentError(`${name}: "${v}" is not a duration (e.g. 3600, 30m, 12h, 7d)`);
        const sec = Number(m[1]) * UNITS[m[2] || 's'];
        if (!Number.isSafeInteger(sec) || sec < 1 || sec > 10 * 365 * 86400) throw new InvalidArgumentError(`${name}: ${v} is out of range (1 s .. 10 years)`);
        return sec;
    };
}

/** 0x + up to 64 hex digits. */
export function hexArg(name: string) {
    return (v: string): string => {
        if (!/^0x[0-9a-fA-F]{1,64}$/.test(v.trim())) throw new InvalidArgumentError(`${name}: "${v}" must be 0x followed by up to 64 hex digits`);
        return v.trim();
    };
}
