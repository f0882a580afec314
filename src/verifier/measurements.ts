// Which image hashes (measurements) a verifier vouches for. Sources: a static list (config or
// --allow-measurement) and the root contract's whitelist read from the chain (onchain.ts). With
// both, an image must be on both: the verifier signs only what its operator audited and the root
// admits.

export interface MeasurementWhitelist {
    /** For the output: "static list (2)", "root EQ…", "static list (1) and root EQ…". */
    readonly source: string;
    /** `measurement` is the 32-byte image hash. Throws when the source cannot be read. */
    isAllowed(measurement: Buffer): Promise<boolean>;
}

export class StaticWhitelist implements MeasurementWhitelist {
    private readonly allowed: Set<string>;
    readonly source: string;
    constructor(hexes: Iterable<string>) {
        this.allowed = new Set([...hexes].map((h) => h.replace(/^0x/, '').toLowerCase()));
        this.source = `static list (${this.allowed.size})`;
    }
    async isAllowed(measurement: Buffer): Promise<boolean> {
        return this.allowed.has(measurement.toString('hex'));
    }
}

/** Allowed when every source allows it. */
export class AllOfWhitelist implements MeasurementWhitelist {
    readonly source: string;
    constructor(private readonly parts: MeasurementWhitelist[]) {
        if (parts.length === 0) throw new Error('AllOfWhitelist needs at least one source');
        this.source = parts.map((p) => p.source).join(' and ');
    }
    async isAllowed(measurement: Buffer): Promise<boolean> {
        for (const p of this.parts) if (!(await p.isAllowed(measurement))) return false;
        return true;
    }
}

/** The whitelist made of the sources given (null when there are none: the check is skipped). */
export function combineWhitelists(parts: (MeasurementWhitelist | null | undefined)[]): MeasurementWhitelist | null {
    const present = parts.filter((p): p is MeasurementWhitelist => !!p);
    if (present.length === 0) return null;
    return present.length === 1 ? present[0] : new AllOfWhitelist(present);
}
