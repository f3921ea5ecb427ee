// Caps on live subscriptions: per WebSocket (a counter onConnect puts on the connection's context, shared by
// reference with every operation's context) and per API key (per client IP without a key), so
// one client cannot open hundreds of event feeds and slow everyone else's. A slot is taken when a subscription
// starts and given back exactly once when it ends: completed, unsubscribed, its socket closed, or failed.
import { AppError } from '../errors.ts';
import { clientKey } from '../security/cost-budget.ts';
import type { Principal } from '../security/scopes.ts';

/** The per-connection counter, kept on the connection's context under this name. */
export const SOCKET_SLOTS = 'mpSubscriptionSlots';

export interface SlotContext {
  [SOCKET_SLOTS]?: { open: number };
  principal?: Principal | null;
  request?: { ip?: string };
}

export class SubscriptionSlots {
  private readonly perKey = new Map<string, number>();

  constructor(
    private readonly perSocket: number,
    private readonly perClient: number,
  ) {}

  /** Takes a slot for a subscription started with `ctx`; returns its idempotent release. */
  acquire(ctx: SlotContext): () => void {
    const socket = ctx[SOCKET_SLOTS];
    const client = clientKey(ctx.principal, ctx.request?.ip);
    const held = this.perKey.get(client) ?? 0;
    if (socket && socket.open >= this.perSocket) {
      throw limit(`at most ${this.perSocket} subscriptions per connection`, { limit: this.perSocket, scope: 'connection' });
    }
    if (held >= this.perClient) throw limit(`at most ${this.perClient} subscriptions per API key or client`, { limit: this.perClient, scope: 'key' });
    if (socket) socket.open++;
    this.perKey.set(client, held + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      if (socket) socket.open--;
      const n = (this.perKey.get(client) ?? 1) - 1;
      if (n > 0) this.perKey.set(client, n);
      else this.perKey.delete(client);
    };
  }

  /** Open subscriptions of one client (tests, metrics). */
  held(client: string): number {
    return this.perKey.get(client) ?? 0;
  }
}

function limit(message: string, details: Record<string, unknown>) {
  // Subscription errors skip the errorFormatter: carry the code the way mercurius passes it on.
  return Object.assign(new AppError('RATE_LIMITED', message, details), { extensions: { code: 'RATE_LIMITED', status: 429, details } });
}
