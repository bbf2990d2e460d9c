// The client role: dial, run the link, and per Persist reconnect with back-off (first retry after
// `first`, then from `base` doubling up to `max`, and never longer than the keep-alive window when
// the session sets Keepalive; a link that was connected resets it). Persist = keep also keeps the
// device and the routes between links.
import type { SessionConfig } from '../config/types.js';
import { ExitCode } from '../exit.js';
import { formatEndpoint } from '../net.js';
import type { SessionReporter } from '../status/types.js';
import { isOrderlyEnd, type Link, type Protocol } from './protocol.js';
import { Session, type SessionContext } from './session.js';

export const DEFAULT_BACKOFF = { first: 1000, base: 5000, max: 60000 };

/** The delay before attempt number `failures` + 1, at most `capMs`. */
export function backoffDelay(failures: number, backoff = DEFAULT_BACKOFF, capMs = Infinity): number {
  return Math.min(capMs, failures === 0 ? backoff.first : Math.min(backoff.max, backoff.base * 2 ** (failures - 1)));
}

/**
 * The keep-alive window in ms, (COUNT + 2) x (INTERVAL + 1) s: how long a silent peer takes to be
 * declared dead. A session that chose it expects a link that comes back to be used again within
 * that time, so the reconnect back-off never waits longer (Infinity without Keepalive).
 */
export function keepaliveWindowMs(keepalive: SessionConfig['session']['keepalive']): number {
  return keepalive.enabled ? (keepalive.count + 2) * (keepalive.interval + 1) * 1000 : Infinity;
}

export class ClientSession extends Session {
  private activeLink: Link | null = null;
  /** a reload asked to reconnect now (with `pending` when the configuration changed) */
  private reconnectNow = false;
  private pending: { config: SessionConfig; secret: Buffer } | null = null;

  constructor(protocol: Protocol, config: SessionConfig, secret: Buffer, ctx: SessionContext, reporter: SessionReporter) {
    super(protocol, config, secret, ctx, reporter, 'client');
  }

  protected reloadProblem(fresh: SessionConfig): string | null {
    if (fresh.session.role !== 'client' || !fresh.session.endpoint) return 'the session is no longer a client with an Endpoint; restart it to change its role';
    if (fresh.session.protocol !== this.config.session.protocol) return `Protocol changed to ${fresh.session.protocol}; restart the session to change it`;
    return null;
  }

  protected applyReload(fresh: SessionConfig, secret: Buffer, unchanged: boolean): string {
    const up = this.activeLink !== null && this.status.state === 'connected';
    if (up && unchanged) return 'configuration unchanged, the link stays up';
    this.pending = { config: fresh, secret };
    this.reconnectNow = true;
    void this.activeLink?.close('reload');
    this.wake?.();
    if (!up) return unchanged ? 'configuration unchanged; connecting again now' : 'configuration changed; connecting with it now';
    return 'configuration changed; reconnecting with it';
  }

  async run(): Promise<number> {
    if (this.protocol.notice) this.log(this.protocol.notice);
    const backoff = this.ctx.backoff ?? DEFAULT_BACKOFF;
    const signal = this.ctx.signal;
    let failures = 0;
    let exitCode: number = ExitCode.ok;
    try {
      while (!signal.aborted) {
        if (this.pending) {
          this.config = this.pending.config;
          this.secret = this.pending.secret;
          this.pending = null;
        }
        this.reconnectNow = false;
        const config = this.config;
        const persist = config.session.persist;
        const endpoint = config.session.endpoint!;
        if (this.status.state === 'reconnecting') this.status.set('reconnecting', this.status.reason);
        else this.status.set('connecting', formatEndpoint(endpoint.host, endpoint.port));
        const run = await this.runLink(config, this.secret, (ctx) => this.protocol.dial(ctx), {
          keepRoutes: persist === 'keep',
          onLink: (link) => {
            this.activeLink = link;
            if (this.reconnectNow) void link.close('reload');
          },
        });
        this.activeLink = null;
        if (signal.aborted) break;
        const reason = this.describeRun(run);
        this.log(run.kind === 'ended' ? `session ended: ${reason}` : reason);
        if (run.kind === 'ended' && run.connected) failures = 0;
        if (persist !== 'keep') this.closeDevice();
        if (this.reconnectNow) {
          this.status.set('reconnecting', 'reload');
          continue;
        }
        if (persist === 'no') {
          exitCode = run.kind === 'ended' && isOrderlyEnd(run.end) ? ExitCode.ok : ExitCode.failure;
          break;
        }
        const delay = backoffDelay(failures, backoff, keepaliveWindowMs(config.session.keepalive));
        failures++;
        this.status.set('reconnecting', reason, new Date(Date.now() + delay));
        await this.pause(delay, () => this.reconnectNow);
      }
    } finally {
      await this.finishStopping(signal.aborted ? 'signal' : null);
    }
    return exitCode;
  }
}
