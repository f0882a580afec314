// The models this node serves. Each has its upstreams (an UpstreamPool: least loaded healthy engine
// first) and its capabilities, the routes it answers (`chat`, `completions`, `embeddings`; the config
// says which, docs/HTTP-API.md "Models"). A model is served only while the root lists it for this
// node's measurement (one image, attested once, may serve several models: AddMeasurement with
// "a,b,c"); the list is read from the root and cached like the Worker's info.
import type { Address } from '@ton/core';
import type { Logger } from 'pino';
import { CocoonRoot, modelNames, type Chain } from '../sdk';
import { OpenAICompatibleBackend, UpstreamPool, type BackendFeatures, type InferenceBackend, type UpstreamStatus } from '../backend';
import type { Capability, WorkerConfig } from './config';
import { HttpError } from './errors';

export interface ServedModel {
    name: string;
    capabilities: ReadonlySet<Capability>;
    /** Where its requests go (a pool of its upstreams, or a backend handed to the node). */
    backend: InferenceBackend;
    /** The name sent upstream (a pool renames it per upstream when an upstream names the model otherwise). */
    upstreamModel: string;
    features?: BackendFeatures;
    /** Its upstreams' health, when the node runs the pool. */
    upstreams: () => UpstreamStatus[];
}

/** The route of each capability. */
export const CAPABILITY_ROUTES: Record<Capability, string> = {
    chat: '/v1/chat/completions', completions: '/v1/completions', embeddings: '/v1/embeddings',
};

/** The root's model names for a measurement, cached for `ttlMs` (null: the measurement is not whitelisted). */
export class RootModelsView {
    private cached: { names: string[] | null; at: number } | null = null;
    private pending: Promise<string[] | null> | null = null;

    constructor(private readonly chain: Chain, private readonly root: Address, private readonly measurement: bigint, private readonly ttlMs: number, private readonly clock: () => number = Date.now) {}

    async get(o: { fresh?: boolean } = {}): Promise<string[] | null> {
        if (!o.fresh && this.cached && this.clock() - this.cached.at < this.ttlMs) return this.cached.names;
        this.pending ??= (async () => {
            try {
                const entry = await this.chain.open(CocoonRoot.fromAddress(this.root)).getModelOf(this.measurement);
                const names = entry === null ? null : modelNames(entry);
                this.cached = { names, at: this.clock() };
                return names;
            } finally {
                this.pending = null;
            }
        })();
        return this.pending;
    }

    invalidate(): void {
        this.cached = null;
    }
}

export interface CatalogOptions {
    config: WorkerConfig;
    rootModels: RootModelsView;
    /** Backends handed to the node, by model name (tests, embedders); the others get a pool of their upstreams. */
    backends?: Record<string, InferenceBackend>;
    /** Bearer token for the upstreams (never logged). */
    apiKey?: string;
    log: Logger;
}

export class ModelCatalog {
    readonly models: ReadonlyMap<string, ServedModel>;
    private readonly pools: UpstreamPool[] = [];

    constructor(private readonly o: CatalogOptions) {
        const { config, log } = o;
        const models = new Map<string, ServedModel>();
        const h = config.upstreamHealth;
        for (const m of config.models) {
            const given = o.backends?.[m.name];
            let backend: InferenceBackend;
            let upstreams: () => UpstreamStatus[];
            if (given) {
                backend = given;
                upstreams = () => [];
            } else {
                const pool = new UpstreamPool(
                    m.upstreams.map((u) => ({
                        backend: new OpenAICompatibleBackend({ baseUrl: u.url, apiKey: o.apiKey, timeoutMs: m.timeoutMs, features: m.features }),
                        model: u.model ?? m.name,
                    })),
                    {
                        intervalMs: m.upstreams.length > 1 ? h.intervalMs : 0, probeTimeoutMs: h.timeoutMs, cooldownMs: h.cooldownMs,
                        onChange: (name, healthy, why) => (healthy ? log.info({ model: m.name, upstream: name }, 'upstream healthy again')
                            : log.warn({ model: m.name, upstream: name, why }, 'upstream left out')),
                    },
                );
                this.pools.push(pool);
                backend = pool;
                upstreams = () => pool.status();
            }
            models.set(m.name, {
                name: m.name, capabilities: new Set(m.capabilities), backend, features: backend.features ?? m.features,
                upstreamModel: given ? (m.upstreams[0]?.model ?? m.name) : m.name, upstreams,
            });
        }
        this.models = models;
    }

    /**
     * At start: every configured model must be one the root lists for this measurement (when the
     * root lists any: a measurement not whitelisted fails the registration itself).
     */
    async checkWhitelisted(measurementHex: string): Promise<void> {
        const names = await this.o.rootModels.get({ fresh: true });
        if (names === null) return;
        const missing = [...this.models.keys()].filter((n) => !names.includes(n));
        if (missing.length > 0) {
            throw new Error(`the root does not list ${missing.join(', ')} for this node's measurement ${measurementHex} (it lists: ${names.join(', ') || 'none'}); ` +
                'serve only those, or have the root whitelist the image for these models too (AddMeasurement with the names separated by commas)');
        }
    }

    /** The model a request names, if this node serves it for this route now; throws HttpError otherwise. */
    async resolve(name: string, capability: Capability): Promise<ServedModel> {
        const m = this.models.get(name);
        if (!m) {
            throw new HttpError(404, `model ${name} is not served here (this node serves ${[...this.models.keys()].join(', ')}; GET /v1/models lists them)`, 'invalid_request_error', 'model_not_found');
        }
        const names = await this.o.rootModels.get();
        if (names !== null && !names.includes(name)) {
            throw new HttpError(404, `model ${name} is no longer whitelisted for this node's image at the root; pick another model or worker`, 'invalid_request_error', 'model_not_found');
        }
        if (!m.capabilities.has(capability)) {
            const routes = [...m.capabilities].map((c) => CAPABILITY_ROUTES[c]).join(', ');
            throw new HttpError(400, `model ${name} is not served on ${CAPABILITY_ROUTES[capability]} here (it is on ${routes}); use one of those or another model`, 'invalid_request_error', 'unsupported_endpoint');
        }
        return m;
    }

    /** GET /v1/models: the models served and listed by the root, each with its capabilities. */
    async list(created: number): Promise<Record<string, unknown>> {
        const names = await this.o.rootModels.get().catch(() => null);
        const data = [...this.models.values()]
            .filter((m) => names === null || names.includes(m.name))
            .map((m) => ({ id: m.name, object: 'model', created, owned_by: 'cocoon', capabilities: [...m.capabilities] }));
        return { object: 'list', data };
    }

    /** Probes every pool's upstreams now (tests, /healthz). */
    async probe(): Promise<void> {
        await Promise.all(this.pools.map((p) => p.probe()));
    }

    close(): void {
        for (const p of this.pools) p.close();
    }
}
